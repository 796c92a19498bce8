// The history client: what the chart needs from /history, split so that every piece
// can be merged exactly with the live stream (see buckets.js).
//
// A downsampled answer's last bucket is usually partial (it ends after
// `complete_until`), and a backfill range rarely starts or ends on a bucket edge.
// Finished buckets come downsampled by the server; the partial edges come as raw
// samples (never more than one step of them), which the client folds into the
// same buckets as the stream. One chunk per series: { labels, head, buckets, tail },
// applied in that order.

import { getJSON } from './api.js';
import { labelsKey } from './labels.js';

const floorTo = (ts, step) => ts - (((ts % step) + step) % step);
const ceilTo = (ts, step) => floorTo(ts + step - 1, step);

function query(metric, from, to, extra = []) {
  return getJSON('/history', [['metric', metric], ['from', from], ['to', to], ...extra]);
}

class Chunks {
  constructor() { this.byKey = new Map(); }
  get(labels) {
    const key = labelsKey(labels);
    let chunk = this.byKey.get(key);
    if (!chunk) {
      chunk = { key, labels, head: [], buckets: [], tail: [] };
      this.byKey.set(key, chunk);
    }
    return chunk;
  }
  add(answer, part, keep = () => true) {
    for (const series of answer.series) {
      const chunk = this.get(series.labels);
      for (const point of series.points) if (keep(point)) chunk[part].push(point);
    }
  }
  list() { return [...this.byKey.values()]; }
}

/**
 * The chart's window, ending now by the server's clock: at most `points` buckets per
 * series, the server choosing a round step (a step of whole minutes reads the rollups).
 * Returns { step, from, completeUntil, series: [chunk] }.
 */
export async function fetchWindow(metric, windowMs, points) {
  const answer = await query(metric, `-${Math.round(windowMs / 1000)}s`, 'now', [['points', points]]);
  const { step } = answer;
  const completeUntil = answer.complete_until;
  // The first bucket that may still get samples: drawn from raw samples instead.
  const tailFrom = floorTo(completeUntil + 1, step);
  const chunks = new Chunks();
  chunks.add(answer, 'buckets', ([bucket]) => bucket < tailFrom);
  if (tailFrom <= completeUntil) chunks.add(await query(metric, tailFrom, completeUntil), 'tail');
  return { step, from: answer.from, completeUntil, series: chunks.list() };
}

/**
 * Everything after `after` up to `to` (inclusive, Unix ms) on the grid of `step`:
 * raw samples up to the first bucket edge, finished buckets, raw samples after the
 * last edge. Returns { completeUntil, series: [chunk] }. When the server has not yet
 * committed all of it (a part's complete_until falls short of its to), only what lies
 * before the first bucket not wholly committed is returned, and completeUntil says
 * where that stops (it may be at or before `after`): ask again from there a little later.
 * A bucket is never handed over half full as if it were finished.
 */
export async function fetchRange(metric, after, to, step) {
  const from = after + 1;
  const chunks = new Chunks();
  if (from > to) return { completeUntil: to, series: [] };
  const firstEdge = ceilTo(from, step);
  const lastEdge = floorTo(to + 1, step);
  let parts;
  if (lastEdge <= firstEdge) {
    // Within one or two steps: raw samples only.
    parts = [['head', query(metric, from, to)]];
  } else {
    parts = [];
    if (from < firstEdge) parts.push(['head', query(metric, from, firstEdge - 1)]);
    parts.push(['buckets', query(metric, firstEdge, lastEdge - 1, [['step', step]])]);
    if (lastEdge <= to) parts.push(['tail', query(metric, lastEdge, to)]);
  }
  const answers = await Promise.all(parts.map(([, pending]) => pending));
  // Each part is complete up to its own `to`; the first part cut short bounds the whole,
  // at the start of the bucket it cut.
  let completeUntil = to;
  for (const answer of answers) {
    if (answer.complete_until < answer.to) completeUntil = Math.min(completeUntil, answer.complete_until);
  }
  const usableBefore = completeUntil === to ? Infinity : floorTo(completeUntil + 1, step);
  answers.forEach((answer, i) => chunks.add(answer, parts[i][0], ([ts]) => ts < usableBefore));
  return { completeUntil: Math.min(completeUntil, usableBefore - 1), series: chunks.list() };
}
