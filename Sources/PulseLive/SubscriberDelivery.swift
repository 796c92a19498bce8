import NIOCore
import PulseCore

/// One subscriber's delivery state. Owned by its sink's event loop: every
/// method runs there, which is why it needs no lock.
final class SubscriberDelivery: @unchecked Sendable {
    /// Where a frame sits in the stream, for gap notices.
    struct Position {
        let seq: UInt64
        let minTimestamp: Int64
        let maxTimestamp: Int64
    }

    enum Outcome {
        case written
        case dropped
        /// Dropped, and behind for too long: the sink has been asked to close.
        case closedTooSlow
    }

    private struct Gap {
        var fromSeq: UInt64
        var toSeq: UInt64
        var count: Int
        var fromTimestamp: Int64
        var toTimestamp: Int64
    }

    let id: UInt64
    let sink: any LiveSink
    private let slowClientTimeout: Duration
    private var gap: Gap?
    private var droppedTotal = 0
    /// Set at the first frame that found the connection not writable; cleared when one is written.
    private var behindSince: ContinuousClock.Instant?
    private var closed = false
    /// Written to since the last flush.
    private var unflushed = false

    init(id: UInt64, sink: any LiveSink, slowClientTimeout: Duration) {
        self.id = id
        self.sink = sink
        self.slowClientTimeout = slowClientTimeout
    }

    /// A samples frame: written when the connection takes it (after a `gap`
    /// frame for what was missed), dropped when it does not. Not flushed:
    /// the caller flushes once it has written everything it has for the
    /// connection (`flush()`), so that a burst goes out in one write.
    func deliver(_ frame: ByteBuffer, at position: Position, now: ContinuousClock.Instant) -> Outcome {
        guard !closed else { return .dropped }
        // The bound is on what the socket does not take: frames written but not
        // yet flushed in this drain go to it first, before this one is judged.
        if unflushed, !sink.isWritable { flush() }
        guard sink.isWritable else {
            droppedTotal += 1
            if var gap {
                gap.toSeq = position.seq
                gap.count += 1
                gap.fromTimestamp = min(gap.fromTimestamp, position.minTimestamp)
                gap.toTimestamp = max(gap.toTimestamp, position.maxTimestamp)
                self.gap = gap
            } else {
                gap = Gap(fromSeq: position.seq, toSeq: position.seq, count: 1, fromTimestamp: position.minTimestamp, toTimestamp: position.maxTimestamp)
            }
            let since = behindSince ?? now
            behindSince = since
            if now - since >= slowClientTimeout {
                close(.tooSlow(dropped: droppedTotal))
                return .closedTooSlow
            }
            return .dropped
        }
        behindSince = nil
        if let gap = gap.take() {
            sink.write(sink.wireFormat.encode(LiveFrame.gap(
                seq: gap.toSeq, dropped: gap.count, fromSeq: gap.fromSeq,
                fromTimestamp: gap.fromTimestamp, toTimestamp: gap.toTimestamp
            )))
        }
        sink.write(frame)
        unflushed = true
        return .written
    }

    var hasUnflushedFrames: Bool { unflushed }

    /// Sends what was written since the last flush; true when there was something.
    @discardableResult
    func flush() -> Bool {
        guard unflushed else { return false }
        unflushed = false
        if !closed { sink.flush() }
        return true
    }

    /// A control frame (hello, reset, replay, subscribed, error): always written,
    /// since they are few and a replay is bounded by the ring.
    func deliverControl(_ frames: [ByteBuffer]) {
        guard !closed, !frames.isEmpty else { return }
        for frame in frames { sink.write(frame) }
        unflushed = true
    }

    /// The connection is gone: write nothing more.
    func detach() {
        closed = true
    }

    func close(_ reason: LiveCloseReason) {
        guard !closed else { return }
        flush()
        closed = true
        sink.close(reason)
    }
}
