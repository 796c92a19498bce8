import Foundation
import NIOCore
import PulseCore
import Synchronization

/// Fans published samples out to live subscribers.
///
/// Each publish is one batch with the next `seq`. It is encoded once per
/// distinct subscription filter and wire format (never once per client), and
/// the same bytes are written to every subscriber with that filter and format.
/// Each event loop has one queue of what its subscribers are to be sent, in
/// the order the hub decided it; a drain on the loop writes everything queued,
/// then flushes each connection once, so that publishes that come faster than
/// the loop drains go out together: no thread hop, no task per frame or per
/// connection. A subscriber whose connection is not writable loses the frame
/// (and learns of it by a `gap` frame); the others never wait for it. The last
/// batches stay in a replay ring so that a reconnecting client can resume
/// without a gap.
public final class LiveHub: SamplePublisher, Sendable {
    public let configuration: LiveConfiguration
    /// Where batches older than the ring are still kept (cluster mode's shared log), if anywhere.
    private let log: (any StreamLog)?

    /// What a samples frame is encoded for: the subscribers that share its bytes.
    private struct FrameKind: Hashable {
        let filter: SubscriptionFilter
        let format: LiveWireFormat
    }

    /// The subscribers served by one event loop, grouped by frame kind, and
    /// what is queued for them.
    private struct LoopGroup {
        let eventLoop: any EventLoop
        var byKind: [FrameKind: [UInt64: SubscriberDelivery]] = [:]
        /// Waiting for the loop's drain, oldest first; a drain is scheduled while it is not empty.
        var queue: [LoopWork] = []
        /// When the last drain began: the next one waits for `flushInterval` after it.
        var lastDrain = NIODeadline.distantPast
    }

    /// One thing for a loop's drain to do, in the order the hub decided it.
    private enum LoopWork {
        /// A batch's frames, for the subscribers the loop had when it was published.
        case publish([FrameKind: [UInt64: SubscriberDelivery]], [FrameKind: (ByteBuffer, SubscriberDelivery.Position)])
        case control(SubscriberDelivery, [ByteBuffer])
        case close(SubscriberDelivery, LiveCloseReason)
        case detach(SubscriberDelivery)
    }

    private struct Subscriber {
        var kind: FrameKind
        let delivery: SubscriberDelivery
        let loop: ObjectIdentifier
    }

    private struct State {
        /// Identifies the stream that `seq` numbers count: this server process, or
        /// in cluster mode the cluster's epoch. `seq` numbers mean nothing across instances.
        var instance: String
        var headSeq: UInt64 = 0
        var ring: ReplayRing
        var subscribers: [UInt64: Subscriber] = [:]
        var loops: [ObjectIdentifier: LoopGroup] = [:]
        /// How many subscribers share each frame kind: a publish encodes each of these once.
        var kindCounts: [FrameKind: Int] = [:]
        var nextID: UInt64 = 1
        /// Upgrades accepted but not yet subscribed, with when they were accepted.
        var reservations: [ContinuousClock.Instant] = []
        var closed = false
        var statistics = LiveStatistics()
        /// Why the stream is degraded now, if it is (cluster mode: the node cannot follow it).
        var degraded: String?
    }

    private let state: Mutex<State>
    // Counted on the event loops, outside the lock.
    private let framesSent = Atomic<Int>(0)
    private let framesDropped = Atomic<Int>(0)
    private let slowClientsClosed = Atomic<Int>(0)

    /// A hub that numbers its own batches from 1 (the embedded gateway), or one
    /// that carries a stream numbered elsewhere (cluster mode: `instance` is the
    /// cluster's epoch, `headSeq` the stream's head when the hub starts, `log`
    /// the shared log of older batches, and batches come in through `publish(_:)`).
    public init(
        configuration: LiveConfiguration = LiveConfiguration(), start: Int64 = Timestamp.now(),
        instance: String = UUID().uuidString.lowercased(), headSeq: UInt64 = 0, log: (any StreamLog)? = nil
    ) {
        self.configuration = configuration
        self.log = log
        var state = State(instance: instance, ring: ReplayRing(capacity: configuration.ringSamples, start: start))
        state.headSeq = headSeq
        self.state = Mutex(state)
    }

    // MARK: Publishing

    /// Publishes a batch as the stream's next one (the embedded gateway: the hub numbers it).
    public func publish(_ samples: [Sample], from source: SampleSource) {
        guard !samples.isEmpty else { return }
        let serverTime = Self.nowMilliseconds()
        state.withLock { state in
            publish(seq: state.headSeq + 1, serverTime: serverTime, samples: samples, &state)
        }
    }

    /// Publishes a batch numbered elsewhere (cluster mode), which must follow the
    /// head; one that does not (a duplicate, an older one) is ignored.
    public func publish(_ batch: PublishedBatch) {
        state.withLock { state in
            guard batch.seq > state.headSeq else { return }
            publish(seq: batch.seq, serverTime: batch.serverTime, samples: batch.samples, &state)
        }
    }

    private func publish(seq: UInt64, serverTime: Double, samples: [Sample], _ state: inout State) {
        guard !state.closed else { return }
        state.headSeq = seq
        state.ring.append(ReplayRing.Entry(seq: seq, serverTime: serverTime, samples: samples))
        state.statistics.published += 1
        var frames: [FrameKind: (ByteBuffer, SubscriberDelivery.Position)] = [:]
        for kind in state.kindCounts.keys {
            frames[kind] = Self.encode(seq: seq, serverTime: serverTime, samples: samples, filter: kind.filter, after: nil, format: kind.format)
        }
        guard !frames.isEmpty else { return }
        for (loop, group) in state.loops where !group.byKind.isEmpty {
            enqueue(.publish(group.byKind, frames), on: loop, &state)
        }
    }

    /// Queues work for a loop's drain, under the lock, so that every loop
    /// sees it in the order the hub decided it; schedules the drain when the
    /// queue was empty (otherwise one is already on its way): at once, unless
    /// the last drain was less than `flushInterval` ago, then when it is up.
    private func enqueue(_ work: LoopWork, on loop: ObjectIdentifier, _ state: inout State) {
        guard let group = state.loops[loop] else { return }
        state.loops[loop]!.queue.append(work)
        guard group.queue.isEmpty else { return }
        let due = group.lastDrain + TimeAmount(configuration.flushInterval)
        if due <= .now() {
            group.eventLoop.execute { [self] in drain(loop) }
        } else {
            group.eventLoop.scheduleTask(deadline: due) { [self] in drain(loop) }
        }
    }

    private func enqueue(_ work: LoopWork, for subscriber: Subscriber, _ state: inout State) {
        enqueue(work, on: subscriber.loop, &state)
    }

    /// Runs on the loop: writes everything queued for its subscribers, then
    /// flushes each connection written to, once.
    private func drain(_ loop: ObjectIdentifier) {
        let queue = state.withLock { state -> [LoopWork] in
            defer {
                state.loops[loop]?.queue = []
                state.loops[loop]?.lastDrain = .now()
            }
            return state.loops[loop]?.queue ?? []
        }
        let now = ContinuousClock.now
        var sent = 0
        var dropped = 0
        var tooSlow: [UInt64] = []
        var written: [SubscriberDelivery] = []
        for work in queue {
            switch work {
            case let .publish(byKind, frames):
                for (kind, deliveries) in byKind {
                    guard let (frame, position) = frames[kind] else { continue }
                    for delivery in deliveries.values {
                        let wasFlushed = !delivery.hasUnflushedFrames
                        switch delivery.deliver(frame, at: position, now: now) {
                        case .written:
                            sent += 1
                            if wasFlushed { written.append(delivery) }
                        case .dropped: dropped += 1
                        case .closedTooSlow: dropped += 1; tooSlow.append(delivery.id)
                        }
                    }
                }
            case let .control(delivery, frames):
                let wasFlushed = !delivery.hasUnflushedFrames
                delivery.deliverControl(frames)
                if wasFlushed, delivery.hasUnflushedFrames { written.append(delivery) }
            case let .close(delivery, reason):
                delivery.close(reason)
            case let .detach(delivery):
                delivery.detach()
            }
        }
        for delivery in written { delivery.flush() }
        framesSent.add(sent, ordering: .relaxed)
        if dropped > 0 { framesDropped.add(dropped, ordering: .relaxed) }
        if !tooSlow.isEmpty {
            slowClientsClosed.add(tooSlow.count, ordering: .relaxed)
            for id in tooSlow { remove(id) }
        }
    }

    /// The samples frame of one batch for one filter (only samples with ts after
    /// `after`, when given), with its position; nil when nothing passes.
    private static func encode(seq: UInt64, serverTime: Double, samples: [Sample], filter: SubscriptionFilter, after: Int64?, format: LiveWireFormat) -> (ByteBuffer, SubscriberDelivery.Position)? {
        let selected = filter.patterns.isEmpty && after == nil
            ? samples
            : samples.filter { sample in filter.matches(sample.key.metric) && sample.timestamp > (after ?? Int64.min) }
        guard !selected.isEmpty else { return nil }
        var minTimestamp = Int64.max
        var maxTimestamp = Int64.min
        for sample in selected {
            minTimestamp = min(minTimestamp, sample.timestamp)
            maxTimestamp = max(maxTimestamp, sample.timestamp)
        }
        let frame = format.encode(LiveFrame.samples(seq: seq, serverTime: serverTime, samples: selected))
        return (frame, SubscriberDelivery.Position(seq: seq, minTimestamp: minTimestamp, maxTimestamp: maxTimestamp))
    }

    // MARK: Connections

    /// Whether a new connection would fit now; a refusal is counted. Checked
    /// before the upgrade so that the refusal can be a proper 503.
    public func admitsConnection() -> Bool {
        state.withLock { Self.fits(&$0, maxConnections: configuration.maxConnections) }
    }

    /// Holds a place for a connection about to be upgraded; false when the hub
    /// is full or closed. A place not claimed by `subscribe` within 10 s is freed.
    public func reserveConnection() -> Bool {
        state.withLock { state in
            guard Self.fits(&state, maxConnections: configuration.maxConnections) else { return false }
            state.reservations.append(.now)
            return true
        }
    }

    /// Whether one more connection fits, forgetting stale reservations and counting a refusal.
    private static func fits(_ state: inout State, maxConnections: Int) -> Bool {
        let now = ContinuousClock.now
        state.reservations.removeAll { now - $0 > .seconds(10) }
        let fits = !state.closed && state.subscribers.count + state.reservations.count < maxConnections
        if !fits { state.statistics.connectionsRefused += 1 }
        return fits
    }

    /// How long a client that resumes from a seq this hub has not reached yet is
    /// held for it (cluster mode: another node committed that batch a moment ago,
    /// and it is on its way here) before it gets a `reset`.
    public static let catchUpWait: Duration = .seconds(2)

    /// Whether `earlierBatches(for:)` may have anything to read or wait for:
    /// only a resume by seq, and only with a log. Otherwise a connection can
    /// subscribe at once, without a task.
    public func resumeMayReadLog(_ resume: ResumePoint?) -> Bool {
        guard log != nil, case .sequence? = resume else { return false }
        return true
    }

    /// What a resuming client needs before it subscribes (cluster mode): the
    /// batches from before the ring, read from the stream's log, to be passed to
    /// `subscribe`; and, when it resumes from a seq this node has not reached
    /// yet, the wait until it has (at most `catchUpWait`). Empty when the ring
    /// has them, there is no log, or the log no longer has them either.
    public func earlierBatches(for resume: ResumePoint?) async -> [PublishedBatch] {
        guard let log, case let .sequence(since, clientInstance, _)? = resume else { return [] }
        var (instance, head) = state.withLock { ($0.instance, $0.headSeq) }
        guard clientInstance == nil || clientInstance == instance else { return [] }
        if since > head {
            let deadline = ContinuousClock.now + Self.catchUpWait
            while since > head, ContinuousClock.now < deadline, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(5))
                (instance, head) = state.withLock { ($0.instance, $0.headSeq) }
                if clientInstance != nil, clientInstance != instance { return [] }
            }
            // Not caught up: a reset. Caught up: the ring has it, unless catching up
            // published more than the ring holds; then the log, as for any resume.
            guard since <= head else { return [] }
        }
        let coverage = state.withLock { $0.ring.coverage(headSeq: $0.headSeq) }
        let beforeRing = coverage.oldestSeq - 1
        guard since < beforeRing else { return [] }
        return (try? await log.batches(after: since, through: beforeRing)) ?? []
    }

    /// Registers a subscriber and writes its first frames: `hello`, then what
    /// `resume` asks for from the ring (or a `reset` where the ring falls short).
    /// Registration and replay happen under one lock, so the live frames that
    /// follow continue exactly where the replay ends. `earlier` are batches from
    /// the stream's log that precede the ring (`earlierBatches(for:)`).
    public func subscribe(_ sink: any LiveSink, filter: SubscriptionFilter, resume: ResumePoint? = nil, earlier: [PublishedBatch] = []) -> LiveSubscription {
        let id = state.withLock { state -> UInt64 in
            if !state.reservations.isEmpty { state.reservations.removeFirst() }
            let id = state.nextID
            state.nextID += 1
            let delivery = SubscriberDelivery(id: id, sink: sink, slowClientTimeout: configuration.slowClientTimeout)
            let loop = ObjectIdentifier(sink.eventLoop)
            if state.loops[loop] == nil { state.loops[loop] = LoopGroup(eventLoop: sink.eventLoop) }
            if state.closed {
                enqueue(.close(delivery, .goingAway), on: loop, &state)
                return id
            }
            var opening = Self.openingFrames(for: resume, filter: filter, earlier: earlier, state: &state)
            if let reason = state.degraded {
                opening.append(LiveFrame.status(seq: state.headSeq, stream: "degraded", reason: reason))
            }
            enqueue(.control(delivery, opening.map(sink.wireFormat.encode)), on: loop, &state)
            let subscriber = Subscriber(kind: FrameKind(filter: filter, format: sink.wireFormat), delivery: delivery, loop: loop)
            state.subscribers[id] = subscriber
            Self.group(subscriber, id: id, in: &state)
            state.statistics.connected = state.subscribers.count
            return id
        }
        return LiveSubscription(id: id, hub: self)
    }

    private static func openingFrames(
        for resume: ResumePoint?, filter: SubscriptionFilter, earlier: [PublishedBatch] = [], state: inout State
    ) -> [String] {
        let instance = state.instance
        let head = state.headSeq
        let coverage = state.ring.coverage(headSeq: head)
        let serverTime = Timestamp.now()
        let beforeRing = coverage.oldestSeq - 1

        func hello(_ seq: UInt64) -> String {
            LiveFrame.hello(seq: seq, instance: instance, headSeq: head, ring: coverage, serverTime: serverTime)
        }
        func replay(seqAfter: UInt64, timestampAfter: Int64?) -> [String] {
            state.ring.entries.compactMap { entry in
                guard entry.seq > seqAfter else { return nil }
                let selected = entry.samples.filter { filter.matches($0.key.metric) && $0.timestamp > (timestampAfter ?? Int64.min) }
                return selected.isEmpty ? nil : LiveFrame.samples(seq: entry.seq, serverTime: entry.serverTime, samples: selected)
            }
        }
        func reset(_ reason: String) -> [String] {
            state.statistics.resetsServed += 1
            return [hello(beforeRing), LiveFrame.reset(seq: beforeRing, completeFromTimestamp: coverage.completeFromTimestamp, reason: reason)]
                + replay(seqAfter: beforeRing, timestampAfter: coverage.completeFromTimestamp)
        }

        switch resume {
        case nil:
            return [hello(head)]
        case let .sequence(since, clientInstance, fallback):
            if clientInstance == nil || clientInstance == instance {
                guard since <= head else {
                    return reset("seq \(since) is ahead of the stream's head \(head)")
                }
                if since >= beforeRing {
                    state.statistics.replaysServed += 1
                    return [hello(since)] + replay(seqAfter: since, timestampAfter: nil)
                }
                // Before the ring: the log's batches (read before this lock) must reach it.
                guard earlier.first?.seq == since + 1, let last = earlier.last?.seq, last >= beforeRing else {
                    return reset("seq \(since) is no longer in the replay ring (it holds \(coverage.oldestSeq)...\(coverage.newestSeq))")
                }
                state.statistics.replaysServed += 1
                let fromLog = earlier.lazy.filter { $0.seq <= beforeRing }.compactMap { batch -> String? in
                    let selected = batch.samples.filter { filter.matches($0.key.metric) }
                    return selected.isEmpty ? nil : LiveFrame.samples(seq: batch.seq, serverTime: batch.serverTime, samples: selected)
                }
                return [hello(since)] + fromLog + replay(seqAfter: beforeRing, timestampAfter: nil)
            }
            if let fallback {
                return openingFrames(for: .timestamp(fallback), filter: filter, state: &state)
            }
            return reset("the server restarted (instance \(instance)): seq numbers start anew")
        case let .timestamp(after):
            guard after >= coverage.completeFromTimestamp else {
                return reset("samples after ts \(after) are no longer all in the replay ring")
            }
            state.statistics.replaysServed += 1
            return [hello(beforeRing)] + replay(seqAfter: beforeRing, timestampAfter: after)
        }
    }

    /// Changes a subscriber's filter from the next publish on, and confirms it.
    func update(_ id: UInt64, filter: SubscriptionFilter) {
        state.withLock { state in
            guard var subscriber = state.subscribers[id] else { return }
            Self.ungroup(subscriber, id: id, in: &state)
            subscriber.kind = FrameKind(filter: filter, format: subscriber.kind.format)
            state.subscribers[id] = subscriber
            Self.group(subscriber, id: id, in: &state)
            let frame = subscriber.kind.format.encode(LiveFrame.subscribed(seq: state.headSeq, filter: filter))
            enqueue(.control(subscriber.delivery, [frame]), for: subscriber, &state)
        }
    }

    /// Tells every subscriber (and each one that connects while it lasts) that
    /// the stream is degraded, with why; nil tells them it is whole again.
    public func setDegraded(_ reason: String?) {
        state.withLock { state in
            guard state.degraded != reason, !state.closed else { return }
            state.degraded = reason
            let text = LiveFrame.status(seq: state.headSeq, stream: reason == nil ? "ok" : "degraded", reason: reason)
            var encoded: [LiveWireFormat: ByteBuffer] = [:]
            for subscriber in state.subscribers.values {
                let format = subscriber.kind.format
                let frame = encoded[format] ?? format.encode(text)
                encoded[format] = frame
                enqueue(.control(subscriber.delivery, [frame]), for: subscriber, &state)
            }
        }
    }

    /// Writes an `error` frame to one subscriber.
    func reportError(_ id: UInt64, message: String) {
        state.withLock { state in
            guard let subscriber = state.subscribers[id] else { return }
            let frame = subscriber.kind.format.encode(LiveFrame.error(seq: state.headSeq, message: message))
            enqueue(.control(subscriber.delivery, [frame]), for: subscriber, &state)
        }
    }

    func remove(_ id: UInt64) {
        state.withLock { state in
            guard let subscriber = state.subscribers.removeValue(forKey: id) else { return }
            enqueue(.detach(subscriber.delivery), for: subscriber, &state)
            Self.ungroup(subscriber, id: id, in: &state)
            state.statistics.connected = state.subscribers.count
        }
    }

    /// Adds a subscriber to its loop's group and its kind's count. (A loop's
    /// group is never removed: there are as many as event loops, and its queue
    /// may still hold work.)
    private static func group(_ subscriber: Subscriber, id: UInt64, in state: inout State) {
        state.loops[subscriber.loop]?.byKind[subscriber.kind, default: [:]][id] = subscriber.delivery
        state.kindCounts[subscriber.kind, default: 0] += 1
    }

    private static func ungroup(_ subscriber: Subscriber, id: UInt64, in state: inout State) {
        let kind = subscriber.kind
        state.loops[subscriber.loop]?.byKind[kind]?[id] = nil
        if state.loops[subscriber.loop]?.byKind[kind]?.isEmpty == true { state.loops[subscriber.loop]?.byKind[kind] = nil }
        state.kindCounts[kind, default: 1] -= 1
        if state.kindCounts[kind] == 0 { state.kindCounts[kind] = nil }
    }

    /// Starts the stream anew (cluster mode, when the cluster starts a new epoch:
    /// its log was restored or rolled back, and its seq numbers now name other
    /// batches): from here `instance` is the new epoch, the head `headSeq`, and
    /// the ring empty, complete from `start`. Every subscriber is closed with
    /// 1001 (going away), as by a restart: it reconnects with its old instance
    /// and gets one `reset`, then backfills from history.
    public func startEpoch(_ instance: String, headSeq: UInt64, start: Int64 = Timestamp.now()) {
        state.withLock { state in
            guard !state.closed, instance != state.instance else { return }
            state.instance = instance
            state.headSeq = headSeq
            state.ring = ReplayRing(capacity: configuration.ringSamples, start: start)
            state.statistics.epochsStarted += 1
            for subscriber in state.subscribers.values {
                enqueue(.close(subscriber.delivery, .goingAway), for: subscriber, &state)
            }
        }
    }

    // MARK: Shutdown and state

    /// Identifies the stream that `seq` numbers count (see `startEpoch`).
    public var instance: String {
        state.withLock { $0.instance }
    }

    /// Stops taking subscribers and publishes; every subscriber's connection is
    /// closed with 1001 (going away) after what was already written to it.
    public func shutdown() {
        state.withLock { state in
            state.closed = true
            for subscriber in state.subscribers.values {
                enqueue(.close(subscriber.delivery, .goingAway), for: subscriber, &state)
            }
        }
    }

    public var statistics: LiveStatistics {
        var statistics = state.withLock { $0.statistics }
        statistics.framesSent = framesSent.load(ordering: .relaxed)
        statistics.framesDropped = framesDropped.load(ordering: .relaxed)
        statistics.slowClientsClosed = slowClientsClosed.load(ordering: .relaxed)
        return statistics
    }

    public var headSeq: UInt64 {
        state.withLock { $0.headSeq }
    }

    public var coverage: RingCoverage {
        state.withLock { $0.ring.coverage(headSeq: $0.headSeq) }
    }

    static func nowMilliseconds() -> Double {
        Date().timeIntervalSince1970 * 1000
    }
}
