import Foundation
import NIOCore
import PulseCore
import Synchronization

/// Fans published samples out to live subscribers.
///
/// Each publish is one batch with the next `seq`. It is encoded once per
/// distinct subscription filter (never once per client) and the same bytes go
/// to every subscriber with that filter. A subscriber's outbox is bounded: a
/// slow client loses frames (and learns of it), the others never wait for it.
/// The last batches stay in a replay ring so that a reconnecting client can
/// resume without a gap.
public final class LiveHub: SamplePublisher, Sendable {
    /// Identifies this server process: `seq` numbers mean nothing across instances.
    public let instance: String
    public let configuration: LiveConfiguration

    private struct Subscriber {
        var filter: SubscriptionFilter
        let outbox: Outbox
    }

    private struct State {
        var headSeq: UInt64 = 0
        var ring: ReplayRing
        /// Subscribers grouped by filter, so that each filter is encoded once per publish.
        var groups: [SubscriptionFilter: [UInt64: Outbox]] = [:]
        var subscribers: [UInt64: SubscriptionFilter] = [:]
        /// What to do when a subscriber is closed for being too slow: its socket
        /// writer may be stuck on a peer that stopped reading.
        var tooSlowActions: [UInt64: @Sendable () -> Void] = [:]
        var nextID: UInt64 = 1
        /// Upgrades accepted but not yet subscribed, with when they were accepted.
        var reservations: [ContinuousClock.Instant] = []
        var closed = false
        var statistics = LiveStatistics()
    }

    private let state: Mutex<State>

    public init(configuration: LiveConfiguration = LiveConfiguration(), start: Int64 = Timestamp.now()) {
        self.instance = UUID().uuidString.lowercased()
        self.configuration = configuration
        self.state = Mutex(State(ring: ReplayRing(capacity: configuration.ringSamples, start: start)))
    }

    // MARK: Publishing

    public func publish(_ samples: [Sample], from source: SampleSource) {
        guard !samples.isEmpty else { return }
        let serverTime = Self.nowMilliseconds()
        let now = ContinuousClock.now
        let tooSlow = state.withLock { state -> [@Sendable () -> Void] in
            guard !state.closed else { return [] }
            state.headSeq += 1
            let seq = state.headSeq
            state.ring.append(ReplayRing.Entry(seq: seq, serverTime: serverTime, samples: samples))
            state.statistics.published += 1
            var dropped = 0
            var closedSlow: [UInt64] = []
            for (filter, outboxes) in state.groups {
                guard let (frame, position) = Self.encode(seq: seq, serverTime: serverTime, samples: samples, filter: filter, after: nil) else { continue }
                for (id, outbox) in outboxes {
                    switch outbox.offer(frame, at: position, now: now) {
                    case .queued: break
                    case .dropped: dropped += 1
                    case .closedTooSlow: dropped += 1; closedSlow.append(id)
                    }
                }
            }
            state.statistics.framesDropped += dropped
            state.statistics.slowClientsClosed += closedSlow.count
            return closedSlow.compactMap { id in
                Self.removeLocked(id, from: &state)
            }
        }
        for action in tooSlow { action() }
    }

    /// The samples frame of one batch for one filter (only samples with ts after
    /// `after`, when given), with its position; nil when nothing passes.
    private static func encode(seq: UInt64, serverTime: Double, samples: [Sample], filter: SubscriptionFilter, after: Int64?) -> (ByteBuffer, Outbox.Position)? {
        var minTimestamp = Int64.max
        var maxTimestamp = Int64.min
        let selected = filter.patterns.isEmpty && after == nil
            ? samples
            : samples.filter { sample in filter.matches(sample.key.metric) && sample.timestamp > (after ?? Int64.min) }
        guard !selected.isEmpty else { return nil }
        for sample in selected {
            minTimestamp = min(minTimestamp, sample.timestamp)
            maxTimestamp = max(maxTimestamp, sample.timestamp)
        }
        let frame = ByteBuffer(string: LiveFrame.samples(seq: seq, serverTime: serverTime, samples: selected))
        return (frame, Outbox.Position(seq: seq, minTimestamp: minTimestamp, maxTimestamp: maxTimestamp))
    }

    // MARK: Connections

    /// Whether a new connection would fit now; a refusal is counted. Checked
    /// before the upgrade so that the refusal can be a proper 503.
    public func admitsConnection() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.reservations.removeAll { now - $0 > .seconds(10) }
            let fits = !state.closed && state.subscribers.count + state.reservations.count < configuration.maxConnections
            if !fits { state.statistics.connectionsRefused += 1 }
            return fits
        }
    }

    /// Holds a place for a connection about to be upgraded; false when the hub
    /// is full or closed. A place not claimed by `subscribe` within 10 s is freed.
    public func reserveConnection() -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            state.reservations.removeAll { now - $0 > .seconds(10) }
            guard !state.closed, state.subscribers.count + state.reservations.count < configuration.maxConnections else {
                state.statistics.connectionsRefused += 1
                return false
            }
            state.reservations.append(now)
            return true
        }
    }

    /// Registers a subscriber and queues its first frames: `hello`, then what
    /// `resume` asks for from the ring (or a `reset` where the ring falls short).
    /// Registration and replay happen under one lock, so the live frames that
    /// follow continue exactly where the replay ends.
    ///
    /// `onTooSlow` runs when the hub drops the subscriber for staying behind:
    /// the close is queued for its writer, which may itself be stuck on a peer
    /// that stopped reading, so the caller should also be ready to drop the connection.
    public func subscribe(filter: SubscriptionFilter, resume: ResumePoint? = nil, onTooSlow: @Sendable @escaping () -> Void = {}) -> LiveSubscription {
        let outbox = Outbox(capacity: configuration.outboxFrames, slowClientTimeout: configuration.slowClientTimeout)
        let id = state.withLock { state -> UInt64 in
            if !state.reservations.isEmpty { state.reservations.removeFirst() }
            let id = state.nextID
            state.nextID += 1
            if state.closed {
                outbox.close(.goingAway)
                return id
            }
            for frame in Self.openingFrames(for: resume, filter: filter, state: &state, instance: instance) {
                outbox.offerControl(ByteBuffer(string: frame), unbounded: true)
            }
            state.subscribers[id] = filter
            state.groups[filter, default: [:]][id] = outbox
            state.tooSlowActions[id] = onTooSlow
            state.statistics.connected = state.subscribers.count
            return id
        }
        return LiveSubscription(id: id, outbox: outbox, hub: self)
    }

    private static func openingFrames(for resume: ResumePoint?, filter: SubscriptionFilter, state: inout State, instance: String) -> [String] {
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
                return encode(seq: entry.seq, serverTime: entry.serverTime, samples: entry.samples, filter: filter, after: timestampAfter)
                    .map { String(buffer: $0.0) }
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
                guard since >= beforeRing, since <= head else {
                    return reset("seq \(since) is no longer in the replay ring (it holds \(coverage.oldestSeq)...\(coverage.newestSeq))")
                }
                state.statistics.replaysServed += 1
                return [hello(since)] + replay(seqAfter: since, timestampAfter: nil)
            }
            if let fallback {
                return openingFrames(for: .timestamp(fallback), filter: filter, state: &state, instance: instance)
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
    func update(_ id: UInt64, filter: SubscriptionFilter, outbox: Outbox) {
        state.withLock { state in
            guard let old = state.subscribers[id] else { return }
            state.groups[old]?[id] = nil
            if state.groups[old]?.isEmpty == true { state.groups[old] = nil }
            state.subscribers[id] = filter
            state.groups[filter, default: [:]][id] = outbox
            outbox.offerControl(ByteBuffer(string: LiveFrame.subscribed(seq: state.headSeq, filter: filter)))
        }
    }

    /// Queues an `error` frame for one subscriber.
    func reportError(_ message: String, outbox: Outbox) {
        let seq = state.withLock { $0.headSeq }
        outbox.offerControl(ByteBuffer(string: LiveFrame.error(seq: seq, message: message)))
    }

    func remove(_ id: UInt64) {
        state.withLock { state in _ = Self.removeLocked(id, from: &state) }
    }

    /// Removes a subscriber; returns its too-slow action, if it was still there.
    private static func removeLocked(_ id: UInt64, from state: inout State) -> (@Sendable () -> Void)? {
        guard let filter = state.subscribers.removeValue(forKey: id) else { return nil }
        state.groups[filter]?[id] = nil
        if state.groups[filter]?.isEmpty == true { state.groups[filter] = nil }
        state.statistics.connected = state.subscribers.count
        return state.tooSlowActions.removeValue(forKey: id)
    }

    func recordSent(_ frames: Int) {
        state.withLock { $0.statistics.framesSent += frames }
    }

    // MARK: Shutdown and state

    /// Stops taking subscribers and publishes; every subscriber gets what is
    /// queued for it, then a close with 1001 (going away).
    public func shutdown() {
        let outboxes = state.withLock { state -> [Outbox] in
            state.closed = true
            return state.groups.values.flatMap(\.values)
        }
        for outbox in outboxes { outbox.close(.goingAway) }
    }

    public var statistics: LiveStatistics {
        state.withLock { $0.statistics }
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
