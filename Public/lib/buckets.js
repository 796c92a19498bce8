// One series as the chart draws it: points on the window's step, the same buckets that
// /history returns (a bucket starts at a multiple of the step; its value is the average).
//
// History answers with finished buckets; the live stream and the edges of history
// ranges bring raw samples. Both go through here, so that a page that has been
// streaming for an hour draws the very points that a reload would fetch, and so that
// nothing is counted twice across backfills, replays and reconnects:
//
// - `coveredUntil` is the newest ts this series already holds, from a raw sample or
//   as the end of a finished bucket. Anything at or before it is a duplicate (a
//   replay from the ring, a history range that overlaps the stream) and is skipped.
//   It is what the series holds, not what the server promised: a sample that was
//   still on its way when history said `complete_until` is taken when it comes.
// - Raw samples gather in the one open bucket; it is drawn when a sample of a later
//   bucket arrives (or when it has been quiet too long), never before, so a drawn
//   point never changes.

export class BucketedSeries {
  constructor(step) {
    this.step = step;
    this.coveredUntil = -Infinity;
    this.lastDrawn = -Infinity;
    this.open = null; // { bucket, sum, count }
  }

  bucketOf(ts) {
    return ts - (((ts % this.step) + this.step) % this.step);
  }

  /** A raw sample. Appends to `out` the [x, y] points it finishes. */
  addSample(ts, value, out) {
    if (ts <= this.coveredUntil) return;
    const bucket = this.bucketOf(ts);
    if (this.open && bucket !== this.open.bucket) this.#close(out);
    this.coveredUntil = ts;
    // A late sample for a bucket already drawn: drawn points never change.
    if (bucket <= this.lastDrawn) return;
    if (!this.open) this.open = { bucket, sum: 0, count: 0 };
    this.open.sum += value;
    this.open.count += 1;
  }

  /** A finished bucket from /history: it holds every sample of its step. */
  addBucket(bucket, value, out) {
    const end = bucket + this.step - 1;
    if (end <= this.coveredUntil) return;
    if (this.open) {
      if (this.open.bucket < bucket) this.#close(out);
      else if (this.open.bucket === bucket) this.open = null; // the server's bucket replaces the partial one
    }
    if (bucket > this.lastDrawn) {
      out.push([bucket, value]);
      this.lastDrawn = bucket;
    }
    this.coveredUntil = end;
  }

  /** Draws the open bucket if its step ended before `before` (a series that stopped). */
  closeIfBefore(before, out) {
    if (this.open && this.open.bucket + this.step <= before) this.#close(out);
  }

  #close(out) {
    const { bucket, sum, count } = this.open;
    this.open = null;
    out.push([bucket, sum / count]);
    this.lastDrawn = bucket;
  }
}
