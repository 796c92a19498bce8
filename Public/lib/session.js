// A dashboard session: the chosen metrics over the chosen window, backfilled from
// history and then kept live. It owns the order of things:
//
// 1. The WebSocket opens first (asking the ring for the last minute), and its frames
//    queue up while history loads: nothing published in between can be missed.
// 2. History is drawn; then the queued frames are merged (buckets.js skips what
//    history already holds), and from then on frames are applied as they arrive, and
//    charts redrawn in animation frames, one extendTraces per chart, within a budget.
// 3. A `reset` (the ring lost what we asked for, or the server restarted) or a `gap`
//    (frames dropped for this slow client) holds the queue while the missing range is
//    fetched from history, then the queue goes on. Nothing is drawn twice, nothing
//    is skipped.

import { LiveConnection } from './live.js';
import { fetchRange, fetchWindow } from './history.js';
import { BucketedSeries } from './buckets.js';
import { Chart } from './chart.js';
import { labelsKey } from './labels.js';

/** The first connection replays this much from the ring: it covers the time history takes to
 *  answer, and a browser clock somewhat ahead of the server's. */
const REPLAY_MS = 60_000;
/** A bucket whose series has sent nothing this long after the bucket ended is drawn anyway. */
const QUIET_MS = 5_000;
/** Attempts at one backfill before the gap is left and reported: live frames wait meanwhile,
 *  so a history that stays down must not hold the charts for long (about 1.5 s). */
const BACKFILL_ATTEMPTS = 3;
/** Rounds of one backfill while the server has not committed the range yet (250 ms apart;
 *  the writer commits at least every --batch-age, 1 s by default). */
const BACKFILL_ROUNDS = 20;
/** The share of the main thread that redraws may take. The page's budget is 4 ms of main
 *  thread per live frame at 10 frames/s, 4 %: receiving and applying frames take about 1 %,
 *  and the browser's rendering of a redraw comes on top of Plotly's part, which is what is
 *  timed. 1.5 % leaves room for both on a noisy machine (README, Dashboard). */
const DRAW_SHARE = 0.015;
/** ...but the next redraw never waits longer than this: a very slow machine goes over
 *  the share rather than show a frozen chart. */
const MAX_DRAW_WAIT_MS = 2_000;

/** The server's round steps (README, `points`): used only if history never answered. */
const ROUND_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400]
  .map((seconds) => seconds * 1000);
export function fallbackStep(windowMs, points) {
  return ROUND_STEPS.find((step) => Math.ceil(windowMs / step) + 1 <= points) ?? 86_400_000;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class Session {
  #queue = [];
  #holds = 0;
  #drawTimer = null;
  #drawCost = null; // ms a redraw takes, smoothed
  #nextDrawAt = 0; // performance.now() from which the next redraw may run
  #destroyed = false;
  #liveState = 'connecting';
  #liveSince = 0; // performance.now() when the connection last became live
  #clockOffset = 0;
  #measures = 0;
  #lastControl = null;
  #idleTimer = null;
  #undrawn = new Map(); // chart state -> Map(trace index -> { x, y })
  // The stream's clock: the server_ts of the newest samples frame applied, or what an
  // answered probe proved. Quiet buckets are judged by it, not by the wall clock.
  #streamTs = -Infinity;
  #lastSamplesAt = 0; // performance.now() when the last samples frame arrived
  #probe = null; // { serverTs, spoiled } while a probe awaits its `subscribed` reply

  /**
   * metrics: names; windowMs and points: the window and how many points fit the chart.
   * mount(metric) -> the element to draw that metric's chart in.
   * onStatus(state), onActivity(serverTs), onError(key, message | null), onUnauthorized(httpError).
   */
  constructor({ metrics, windowMs, points, mount, onStatus, onActivity, onError, onUnauthorized }) {
    this.metrics = metrics;
    this.windowMs = windowMs;
    this.points = points;
    this.onStatus = onStatus;
    this.onActivity = onActivity;
    this.onError = onError;
    this.onUnauthorized = onUnauthorized;
    this.paused = false;
    this.state = new Map(metrics.map((metric) => [metric, {
      metric,
      chart: new Chart(mount(metric), metric),
      step: null,
      maxPoints: 0,
      series: new Map(), // labels key -> { index, buckets }
    }]));
  }

  start() {
    this.live = new LiveConnection({
      metrics: this.metrics,
      sinceTs: Date.now() - REPLAY_MS,
      onFrame: (frame) => this.#enqueue(frame),
      onState: (status) => {
        if (status.state === 'live' && this.#liveState !== 'live') this.#liveSince = performance.now();
        if (status.state !== 'live') this.#probe = null; // its reply would have come on that connection
        this.#liveState = status.state;
        this.onStatus(status);
      },
    });
    this.live.start();
    this.#hold(() => this.#loadWindows());
    this.#idleTimer = setInterval(() => this.#apply(), QUIET_MS / 2);
  }

  pause() {
    this.paused = true;
    this.live.stop('paused');
  }

  /** Reconnects with since/instance/since_ts: the ring or history fills the pause. */
  resume() {
    this.paused = false;
    this.live.start();
  }

  destroy() {
    this.#destroyed = true;
    clearInterval(this.#idleTimer);
    clearTimeout(this.#drawTimer);
    this.live?.stop('stopped');
    for (const { chart } of this.state.values()) chart.destroy();
  }

  serverNow() {
    return Date.now() + this.#clockOffset;
  }

  get charts() {
    return [...this.state.values()].map(({ chart }) => chart);
  }

  // --- history ---------------------------------------------------------------------

  async #loadWindows() {
    await Promise.all(this.metrics.map(async (metric) => {
      const state = this.state.get(metric);
      try {
        const window = await fetchWindow(metric, this.windowMs, this.points);
        if (this.#destroyed) return;
        this.#setStep(state, window.step);
        const drawn = [];
        for (const chunk of window.series) {
          const series = { index: drawn.length, buckets: new BucketedSeries(state.step) };
          state.series.set(chunk.key, series);
          const points = this.#applyChunk(series, chunk);
          drawn.push({ key: chunk.key, labels: chunk.labels, x: points.map((p) => p[0]), y: points.map((p) => p[1]) });
        }
        state.chart.reset(drawn);
        this.onError(`history:${metric}`, null);
      } catch (error) {
        if (this.#destroyed) return;
        this.#reportHistoryError(`history:${metric}`, `History of ${metric} could not be loaded (${error.message}); showing live data only.`, error);
        this.#setStep(state, fallbackStep(this.windowMs, this.points));
        state.chart.note('No history: waiting for live data');
      }
    }));
  }

  #setStep(state, step) {
    state.step = step;
    // The buckets one window holds, plus the one being filled and one partial at the start.
    state.maxPoints = Math.ceil(this.windowMs / step) + 2;
  }

  #applyChunk(series, chunk, out = []) {
    for (const [ts, value] of chunk.head) series.buckets.addSample(ts, value, out);
    for (const [bucket, value] of chunk.buckets) series.buckets.addBucket(bucket, value, out);
    for (const [ts, value] of chunk.tail) series.buckets.addSample(ts, value, out);
    return out;
  }

  /** Fills (what each chart holds, to] from history, for every chart. */
  async #backfill(to) {
    await Promise.all([...this.state.values()].map(async (state) => {
      if (state.step === null) return;
      const windowStart = this.serverNow() - this.windowMs;
      // From what the least advanced series holds (those ahead skip what they have),
      // but never from before the window.
      const held = Math.min(...[...state.series.values()].map((s) => s.buckets.coveredUntil));
      let after = Math.max(Number.isFinite(held) ? held : -Infinity, windowStart - (windowStart % state.step) - 1);
      let failures = 0;
      for (let round = 1; after < to && !this.#destroyed; round++) {
        if (round > BACKFILL_ROUNDS) {
          this.onError('backfill', `History after ${new Date(after).toLocaleTimeString()} was still not committed; that part of the chart stays empty.`);
          return;
        }
        try {
          const range = await fetchRange(state.metric, after, to, state.step);
          if (this.#destroyed) return;
          for (const chunk of range.series) {
            const series = state.series.get(chunk.key) ?? this.#addSeries(state, chunk.key, chunk.labels);
            const out = this.#applyChunk(series, chunk);
            if (out.length) this.#queueDraw(state, series.index, out);
          }
          this.onError('backfill', null);
          // Not all committed on the server yet (the writer batches): the rest in a moment.
          after = Math.max(after, range.completeUntil);
          if (after < to) await sleep(250);
        } catch (error) {
          if (++failures >= BACKFILL_ATTEMPTS) {
            this.#reportHistoryError('backfill', `The gap after ${new Date(after).toLocaleTimeString()} could not be filled from history (${error.message}).`, error);
            return;
          }
          this.#reportHistoryError('backfill', `Filling a gap from history failed (${error.message}); trying again.`, error);
          await sleep(250 * 2 ** failures);
        }
      }
    }));
  }

  #reportHistoryError(key, message, error) {
    if (error?.unauthorized) this.onUnauthorized(error);
    this.onError(key, message);
  }

  // --- live ------------------------------------------------------------------------

  #enqueue(frame) {
    if (this.#destroyed) return;
    if (typeof frame.server_ts === 'number') this.#clockOffset = frame.server_ts - Date.now();
    if (frame.type === 'samples') this.onActivity?.(frame.server_ts);
    if (frame.type === 'error') console.warn('pulsegate live:', frame.error);
    if (frame.type === 'samples') {
      this.#lastSamplesAt = performance.now();
      if (this.#probe) this.#probe.spoiled = true;
    } else if (frame.type === 'subscribed' && this.#probe) {
      // Nothing came between the probe and its reply: nothing was on its way, so the
      // stream was silent, by the server's clock, up to when the probe was sent.
      if (!this.#probe.spoiled) frame.quietUntil = this.#probe.serverTs;
      this.#probe = null;
    }
    this.#queue.push(frame);
    this.#apply();
  }

  /** Runs fn with the queue held: frames wait until it is done. */
  async #hold(fn) {
    this.#holds += 1;
    try {
      await fn();
    } catch (error) {
      console.error(error);
    } finally {
      this.#holds -= 1;
      this.#apply();
    }
  }

  /**
   * Applies the queued frames, unless a backfill holds them: samples go into their
   * series' buckets, and what completes a bucket waits in #undrawn for its chart's turn.
   * This touches no DOM, so it runs as frames arrive (a fraction of a millisecond),
   * not in an animation frame, which would make the browser render one for nothing.
   */
  #apply() {
    if (this.#holds > 0 || this.#destroyed) return;
    const started = performance.now();
    let backfillTo = null;
    let taken = 0;
    while (taken < this.#queue.length) {
      const frame = this.#queue[taken++];
      if (frame.type === 'samples') {
        this.#ingest(frame.samples);
        if (typeof frame.server_ts === 'number') this.#streamTs = Math.max(this.#streamTs, frame.server_ts);
      } else if (frame.type === 'subscribed' && frame.quietUntil !== undefined) this.#streamTs = Math.max(this.#streamTs, frame.quietUntil);
      else if (frame.type === 'reset' || frame.type === 'gap') {
        backfillTo = frame.type === 'reset' ? frame.complete_from_ts : frame.to_ts;
        this.#lastControl = frame.type;
      }
      if (backfillTo !== null) break; // later frames wait for the backfill
    }
    this.#queue.splice(0, taken);
    if (this.#liveState === 'live' && backfillTo === null && performance.now() - this.#liveSince >= QUIET_MS) {
      this.#closeQuiet();
      this.#probeIfSilent();
    }
    if (taken > 0) this.#measure('pulsegate:apply', started);
    if (backfillTo !== null) {
      // Visible in DevTools' timeline, and how the browser check knows a backfill ran.
      performance.mark('pulsegate:backfill', { detail: { type: this.#lastControl, to: backfillTo } });
      this.#hold(() => this.#backfill(backfillTo));
    }
    this.#scheduleDraw();
  }

  /**
   * The next redraw, in an animation frame, once the drawing budget allows it. A hidden
   * tab gets no animation frames; the timer alone (throttled to about 1/s by the browser)
   * keeps #undrawn from growing while nobody looks.
   */
  #scheduleDraw() {
    if (this.#drawTimer !== null || this.#undrawn.size === 0 || this.#destroyed) return;
    const wait = Math.max(0, this.#nextDrawAt - performance.now());
    this.#drawTimer = setTimeout(() => {
      if (document.hidden) this.#draw();
      else requestAnimationFrame(() => this.#draw());
    }, wait);
  }

  /**
   * Redraws one chart (the one waiting longest) with one extendTraces for all its traces,
   * and sets when the next redraw may be: Plotly redraws a whole chart for any change
   * (15 to 30 ms here, README, Dashboard), so redraws are spaced to keep them within
   * DRAW_SHARE of the main thread. A fast machine is held back by the buckets alone; a
   * slow one, or a page of many charts, redraws less often instead of stuttering.
   */
  #draw() {
    this.#drawTimer = null;
    if (this.#destroyed || this.#undrawn.size === 0) return;
    const [state, updates] = this.#undrawn.entries().next().value;
    this.#undrawn.delete(state);
    const started = performance.now();
    state.chart.extend(updates, state.maxPoints);
    const cost = this.#measure('pulsegate:draw', started);
    // Smoothed, so that one redraw slowed by a GC does not stop the chart for seconds.
    this.#drawCost = this.#drawCost === null ? cost : 0.7 * this.#drawCost + 0.3 * cost;
    this.#nextDrawAt = started + Math.min(this.#drawCost / DRAW_SHARE, MAX_DRAW_WAIT_MS);
    this.#scheduleDraw();
  }

  /** A Performance API measure (read by the browser check, and shown in DevTools), in ms. */
  #measure(name, start) {
    const entry = performance.measure(name, { start });
    // Keep the buffer bounded.
    if (++this.#measures % 10_000 === 0) performance.clearMeasures();
    return entry.duration;
  }

  #ingest(samples) {
    const out = [];
    for (const sample of samples) {
      const state = this.state.get(sample.metric);
      if (!state || state.step === null) continue;
      const key = labelsKey(sample.labels);
      const series = state.series.get(key) ?? this.#addSeries(state, key, sample.labels);
      series.buckets.addSample(sample.ts, sample.value, out);
      if (out.length) {
        this.#queueDraw(state, series.index, out);
        out.length = 0;
      }
    }
  }

  /**
   * Series that went quiet (stopped, or removed): their last bucket is drawn all the same.
   * Quiet means silent on a live connection: not while it was down or paused, nor in its
   * first QUIET_MS, when the ring's replay (or a reset's backfill) is still bringing the
   * rest of a bucket left open by the break. Closed early, that bucket would be drawn
   * short, and its late samples skipped.
   *
   * Silent by the stream's clock (#streamTs), not the wall clock: a link that stalls (a
   * congested network, a relay that stops passing bytes) keeps the connection open and
   * delivers nothing for seconds, then the frames it held, then the server's `gap`. By the
   * wall clock, the bucket open when the stall began would be closed during it, short,
   * and the held frames' samples for it skipped as late (the real-gap browser check drew
   * such a bucket with a few samples of its 20).
   */
  #closeQuiet() {
    const before = this.#streamTs - QUIET_MS;
    const out = [];
    for (const state of this.state.values()) {
      for (const series of state.series.values()) {
        series.buckets.closeIfBefore(before, out);
        if (out.length) {
          this.#queueDraw(state, series.index, out);
          out.length = 0;
        }
      }
    }
  }

  /**
   * A connection with no samples for QUIET_MS is either silent (every series it carries
   * stopped) or stalled; only the server can tell, so it is asked (LiveConnection.probe):
   * a reply with no samples before it advances the stream's clock to when it was asked.
   */
  #probeIfSilent() {
    if (this.#probe || this.paused || performance.now() - this.#lastSamplesAt < QUIET_MS) return;
    const serverTs = this.serverNow();
    if (this.live.probe()) this.#probe = { serverTs, spoiled: false };
  }

  #addSeries(state, key, labels) {
    const series = { index: state.chart.addSeries(key, labels), buckets: new BucketedSeries(state.step) };
    state.series.set(key, series);
    return series;
  }

  /** Points wait here, per chart and trace, in ts order, until their chart's turn to draw. */
  #queueDraw(state, index, points) {
    let updates = this.#undrawn.get(state);
    if (!updates) {
      updates = new Map();
      this.#undrawn.set(state, updates);
    }
    let update = updates.get(index);
    if (!update) {
      update = { x: [], y: [] };
      updates.set(index, update);
    }
    for (const [x, y] of points) {
      update.x.push(x);
      update.y.push(y);
    }
    // extendTraces keeps the last maxPoints of a trace: older points waiting here (a
    // hidden tab gets no animation frames) would be dropped there anyway.
    const excess = update.x.length - state.maxPoints;
    if (excess > state.maxPoints) {
      update.x.splice(0, excess);
      update.y.splice(0, excess);
    }
  }
}
