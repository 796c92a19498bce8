import DequeModule
import NIOCore
import PulseCore
import Synchronization

/// Why the server closes a live connection.
public enum LiveCloseReason: Sendable, Equatable {
    /// The server is stopping (WebSocket 1001), after sending what was queued.
    case goingAway
    /// The client stayed behind longer than the bound (WebSocket 1008).
    case tooSlow(dropped: Int)
}

/// What a subscriber's socket writer takes next.
public enum OutboxItem: Sendable {
    /// JSON text, encoded once and shared by every subscriber that gets it.
    case frame(ByteBuffer)
    case close(LiveCloseReason)
}

/// The frames waiting for one subscriber's socket: bounded, never blocking the hub.
///
/// When full, new frames are dropped for this subscriber only; the next frame
/// that fits is preceded by a `gap` frame telling the client what it missed.
/// A subscriber whose outbox has not emptied for `slowClientTimeout` is closed.
final class Outbox: Sendable {
    /// Where a frame sits in the stream, for gap notices.
    struct Position {
        let seq: UInt64
        let minTimestamp: Int64
        let maxTimestamp: Int64
    }

    enum Offer: Equatable {
        case queued
        case dropped
        /// Dropped, and the subscriber has now been behind too long: it is closing.
        case closedTooSlow
    }

    private struct Gap {
        var fromSeq: UInt64
        var toSeq: UInt64
        var count: Int
        var fromTimestamp: Int64
        var toTimestamp: Int64
    }

    private struct State {
        var frames: Deque<ByteBuffer> = []
        var waiter: CheckedContinuation<OutboxItem?, Never>?
        var closing: LiveCloseReason?
        var finished = false
        var gap: Gap?
        var droppedTotal = 0
        /// Set at the first drop; cleared when the outbox empties.
        var behindSince: ContinuousClock.Instant?
    }

    private let capacity: Int
    private let slowClientTimeout: Duration
    private let state = Mutex(State())

    init(capacity: Int, slowClientTimeout: Duration) {
        self.capacity = max(1, capacity)
        self.slowClientTimeout = slowClientTimeout
    }

    /// Queues a samples frame unless the outbox is full. Never waits.
    func offer(_ frame: ByteBuffer, at position: Position, now: ContinuousClock.Instant = .now) -> Offer {
        let (result, waiter, item) = state.withLock { state -> (Offer, CheckedContinuation<OutboxItem?, Never>?, OutboxItem?) in
            if state.closing != nil || state.finished { return (.dropped, nil, nil) }
            if state.frames.count >= capacity {
                state.droppedTotal += 1
                if var gap = state.gap {
                    gap.toSeq = position.seq
                    gap.count += 1
                    gap.fromTimestamp = min(gap.fromTimestamp, position.minTimestamp)
                    gap.toTimestamp = max(gap.toTimestamp, position.maxTimestamp)
                    state.gap = gap
                } else {
                    state.gap = Gap(fromSeq: position.seq, toSeq: position.seq, count: 1, fromTimestamp: position.minTimestamp, toTimestamp: position.maxTimestamp)
                }
                let since = state.behindSince ?? now
                state.behindSince = since
                if now - since >= slowClientTimeout {
                    state.closing = .tooSlow(dropped: state.droppedTotal)
                    state.frames.removeAll()
                    return (.closedTooSlow, state.waiter.take(), .close(.tooSlow(dropped: state.droppedTotal)))
                }
                return (.dropped, nil, nil)
            }
            if let gap = state.gap.take() {
                state.frames.append(ByteBuffer(string: LiveFrame.gap(
                    seq: gap.toSeq, dropped: gap.count, fromSeq: gap.fromSeq,
                    fromTimestamp: gap.fromTimestamp, toTimestamp: gap.toTimestamp
                )))
            }
            state.frames.append(frame)
            return (.queued, state.waiter.take(), nil)
        }
        if let waiter { waiter.resume(returning: item ?? takeNext()) }
        return result
    }

    /// Queues a control frame (hello, reset, replay, subscribed, error). These
    /// may exceed the capacity (a replay is bounded by the ring) but not twice
    /// over, so that a client that sends garbage without reading cannot grow it.
    @discardableResult
    func offerControl(_ frame: ByteBuffer, unbounded: Bool = false) -> Bool {
        let (queued, waiter) = state.withLock { state -> (Bool, CheckedContinuation<OutboxItem?, Never>?) in
            guard state.closing == nil, !state.finished, unbounded || state.frames.count < 2 * capacity else { return (false, nil) }
            state.frames.append(frame)
            return (true, state.waiter.take())
        }
        if let waiter { waiter.resume(returning: takeNext()) }
        return queued
    }

    /// Sends what is queued, then closes for `reason` (the server is stopping).
    func close(_ reason: LiveCloseReason) {
        let waiter = state.withLock { state -> CheckedContinuation<OutboxItem?, Never>? in
            if state.closing == nil { state.closing = reason }
            return state.waiter.take()
        }
        waiter?.resume(returning: takeNext())
    }

    /// Ends the outbox without a close frame (the connection is gone).
    func finish() {
        let waiter = state.withLock { state -> CheckedContinuation<OutboxItem?, Never>? in
            state.finished = true
            state.frames.removeAll()
            return state.waiter.take()
        }
        waiter?.resume(returning: nil)
    }

    /// The next item for the socket; nil once finished. Cancellation ends the wait with nil.
    func next() async -> OutboxItem? {
        if let item = takeNextIfReady() { return item }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<OutboxItem?, Never>) in
                let ready: OutboxItem?? = state.withLock { state in
                    if let item = Self.take(&state) { return .some(item) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiter = continuation
                    return .none
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            finish()
        }
    }

    var queuedFrames: Int { state.withLock { $0.frames.count } }

    private func takeNextIfReady() -> OutboxItem? {
        state.withLock { Self.take(&$0) }
    }

    private func takeNext() -> OutboxItem? {
        state.withLock { state in Self.take(&state) }
    }

    /// A queued frame, or the close once nothing (for `goingAway`) or everything (for `tooSlow`) is left.
    /// The close is handed out once; after it, the outbox is finished.
    private static func take(_ state: inout State) -> OutboxItem? {
        if state.finished { return nil }
        if case .tooSlow = state.closing {
            state.finished = true
            return state.closing.map(OutboxItem.close)
        }
        if let frame = state.frames.popFirst() {
            if state.frames.isEmpty { state.behindSince = nil }
            return .frame(frame)
        }
        guard let closing = state.closing else { return nil }
        state.finished = true
        return .close(closing)
    }
}
