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

    private let wireFormat: LiveWireFormat

    init(id: UInt64, sink: any LiveSink, slowClientTimeout: Duration, wireFormat: LiveWireFormat) {
        self.id = id
        self.sink = sink
        self.slowClientTimeout = slowClientTimeout
        self.wireFormat = wireFormat
    }

    /// A samples frame: written when the connection takes it (after a `gap`
    /// frame for what was missed), dropped when it does not.
    func deliver(_ frame: ByteBuffer, at position: Position, now: ContinuousClock.Instant) -> Outcome {
        guard !closed else { return .dropped }
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
            sink.write(wireFormat.encode(LiveFrame.gap(
                seq: gap.toSeq, dropped: gap.count, fromSeq: gap.fromSeq,
                fromTimestamp: gap.fromTimestamp, toTimestamp: gap.toTimestamp
            )))
        }
        sink.write(frame)
        return .written
    }

    /// A control frame (hello, reset, replay, subscribed, error): always written,
    /// since they are few and a replay is bounded by the ring.
    func deliverControl(_ frames: [ByteBuffer]) {
        guard !closed else { return }
        for frame in frames { sink.write(frame) }
    }

    /// The connection is gone: write nothing more.
    func detach() {
        closed = true
    }

    func close(_ reason: LiveCloseReason) {
        guard !closed else { return }
        closed = true
        sink.close(reason)
    }
}
