// The live connection to /ws/metrics: one WebSocket, reopened after any loss with
// exponential backoff and jitter, resuming where it stopped.
//
// Resume: `since=<seq>&instance=<id>` asks the same server process to replay from its
// ring the batches after the last one received; `since_ts=<newest ts received>` is what
// a new process (a restart) goes by. Whatever the ring cannot give back, the server
// announces with a `reset` frame, and the caller fills it from /history. Frames go to
// `onFrame` in order, unchanged; this module knows nothing of charts.

import { liveURL, serverIsUp } from './api.js';

export class LiveConnection {
  #ws = null;
  #timer = null;
  #attempt = 0;
  #running = false;

  /**
   * metrics: names to subscribe to. sinceTs: where a first connection starts (Unix ms),
   * so that samples published while history loads are not missed.
   * onFrame(frame); onState({ state, ... }) with state connecting | live | reconnecting
   * | offline | paused.
   */
  constructor({ metrics, sinceTs = null, onFrame, onState, baseDelayMs = 500, maxDelayMs = 15000 }) {
    this.metrics = metrics;
    this.onFrame = onFrame;
    this.onState = onState;
    this.baseDelayMs = baseDelayMs;
    this.maxDelayMs = maxDelayMs;
    this.instance = null;
    this.lastSeq = null;
    this.lastTs = sinceTs;
    this.onOnline = () => { if (this.#running && !this.#ws) this.#reconnectNow(); };
  }

  start() {
    if (this.#running) return;
    this.#running = true;
    addEventListener('online', this.onOnline);
    this.#open();
  }

  /** Closes the connection; start() resumes from the same point. */
  stop(state = 'paused') {
    this.#running = false;
    removeEventListener('online', this.onOnline);
    clearTimeout(this.#timer);
    const ws = this.#ws;
    this.#ws = null;
    if (ws) ws.close(1000, 'client stopped');
    this.onState({ state });
  }

  /**
   * Asks the server to confirm the subscription (the same metrics): its `subscribed`
   * reply comes after every frame the server wrote before it, in order, so it tells
   * a silent stream (nothing published) from a stalled link (frames still on the way).
   * False if there is no open connection to ask on.
   */
  probe() {
    if (!this.#ws || this.#ws.readyState !== WebSocket.OPEN) return false;
    this.#ws.send(JSON.stringify({ type: 'subscribe', metrics: this.metrics }));
    return true;
  }

  /** The next delay: exponential, capped, with "equal jitter" (half fixed, half random) so that
   *  many pages that lost the same server do not all come back in the same millisecond. */
  nextDelay(attempt) {
    const ceiling = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** attempt);
    return ceiling / 2 + Math.random() * (ceiling / 2);
  }

  #params() {
    const params = this.metrics.map((metric) => ['metric', metric]);
    if (this.instance !== null && this.lastSeq !== null) {
      params.push(['since', this.lastSeq], ['instance', this.instance]);
    }
    if (this.lastTs !== null) params.push(['since_ts', Math.floor(this.lastTs)]);
    return params;
  }

  #open() {
    this.onState({ state: this.#attempt === 0 && this.instance === null ? 'connecting' : 'reconnecting', attempt: this.#attempt });
    const ws = new WebSocket(liveURL(this.#params()));
    this.#ws = ws;
    let greeted = false;
    ws.onmessage = (event) => {
      if (ws !== this.#ws) return;
      let frame;
      try { frame = JSON.parse(event.data); } catch { return; }
      // seq never goes back within an instance. A `subscribed` reply (to probe()) and a
      // `status` frame carry the server's newest batch, which may be one dropped for this
      // client and not yet announced by a `gap`: resuming after it would skip that batch.
      if (typeof frame.seq === 'number' && frame.type !== 'subscribed' && frame.type !== 'status') this.lastSeq = frame.seq;
      if (frame.type === 'hello') {
        greeted = true;
        this.#attempt = 0;
        this.instance = frame.instance;
        this.onState({ state: 'live', instance: frame.instance });
      } else if (frame.type === 'samples') {
        for (const sample of frame.samples) if (this.lastTs === null || sample.ts > this.lastTs) this.lastTs = sample.ts;
      }
      this.onFrame(frame);
    };
    ws.onclose = async (event) => {
      if (ws !== this.#ws) return;
      this.#ws = null;
      if (!this.#running) return;
      const delay = this.nextDelay(this.#attempt);
      this.#attempt += 1;
      this.#timer = setTimeout(() => this.#open(), delay);
      // A refused upgrade looks like any network failure to a page (code 1006, no reason);
      // asking /healthz tells a server that is down from one that said no.
      let reason;
      if (greeted) reason = event.code === 1001 ? 'the server went away' : `the live connection closed (${event.code}${event.reason ? `: ${event.reason}` : ''})`;
      else reason = (await serverIsUp()) ? 'the server refused the live connection (too many connections, or not authorized)' : 'the server is unreachable';
      if (!this.#running || this.#ws) return;
      const offline = !navigator.onLine || this.#attempt > 4;
      this.onState({ state: offline ? 'offline' : 'reconnecting', reason, refused: !greeted, retryAt: Date.now() + delay, attempt: this.#attempt });
    };
  }

  /** The browser is back online: try now, and start the backoff over, since the network
   *  may take a moment after the event (a first try that fails is retried in 0.5 s). */
  #reconnectNow() {
    clearTimeout(this.#timer);
    this.#attempt = 0;
    this.#open();
  }
}
