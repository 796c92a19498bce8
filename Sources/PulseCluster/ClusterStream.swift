import Foundation
import Logging
import PostgresNIO
import PulseCore
import ServiceLifecycle
import Synchronization

/// This node's view of the cluster's one stream: every node's committed
/// batches, in seq order, each once, handed to the hub (and the exposition).
///
/// Batches arrive three ways: this node's own, from its writer right after the
/// COMMIT; the others', from PostgreSQL's notifications (LISTEN); and, for what
/// a notification did not carry (a frame too large for its payload, a node that
/// was disconnected), from the replay log. Whatever the way, a batch is handed
/// on only when it is the next seq; later ones wait for the hole to be filled,
/// duplicates are dropped. On every (re)connection the node LISTENs first,
/// then reads the head and catches up from the log, so nothing committed in
/// between is missed.
///
/// The log is checked on every reconnection too: when PostgreSQL comes back
/// with a log that is not the one the node followed (restored from a backup,
/// or failed over to a replica that lacked the last commits), its seq numbers
/// name other batches than the ones clients hold. The node then starts a new
/// epoch (or joins the one another node started first), and its hub starts
/// anew under it: clients get one `reset`.
public final class ClusterStream: Service, Sendable {
    /// The stream's head when the node started: its hub numbers from here.
    public let startSeq: UInt64
    /// The replay log, for the hub's resumes from before its ring.
    public let log: FrameLog
    private let settings: PostgresSettings
    /// This node's name, which its LISTEN connection carries (`pg_stat_activity`).
    private let node: String
    private let logger: Logger
    /// The node's count of stored series (cardinality), which learns other nodes' new series here.
    private let series: SeriesRegistry

    private struct State {
        /// The cluster's epoch, which clients resume with as `instance`.
        var epoch: String
        var nextSeq: UInt64
        /// The highest seq known committed (from a notification or the head row).
        var knownHead: UInt64
        var pending: [UInt64: PublishedBatch] = [:]
        var deliver: (@Sendable (PublishedBatch) -> Void)?
        var degraded: (@Sendable (String?) -> Void)?
        var newEpoch: (@Sendable (String, UInt64) -> Void)?
        /// The last batch handed on, to tell after a reconnection whether the log still holds it as it was.
        var lastDelivered: BatchFingerprint?
        var statistics = ClusterStreamStatistics()
    }

    private let state: Mutex<State>
    private let catchUps: AsyncStream<Void>.Continuation
    private let catchUpStream: AsyncStream<Void>

    /// Batches this far ahead of a hole are not held: the log is read instead.
    static let maxPending = 10_000
    static let catchUpPage = 500

    /// What `pg_stat_activity.application_name` says of a node's LISTEN connection.
    public static func applicationName(node: String) -> String {
        "pulsegate \(node) stream"
    }

    init(epoch: String, head: UInt64, log: FrameLog, series: SeriesRegistry, settings: PostgresSettings, node: String, logger: Logger) {
        self.node = node
        self.series = series
        self.startSeq = head
        self.log = log
        self.settings = settings
        self.logger = logger
        self.state = Mutex(State(epoch: epoch, nextSeq: head + 1, knownHead: head))
        (catchUpStream, catchUps) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Where batches go, in order; who is told while the node cannot follow the
    /// stream (with why) and when it can again (nil); and who is told when the
    /// cluster starts a new epoch (its name, and the head seq the stream goes on
    /// from). Set once, before `run()`.
    public func attach(
        _ deliver: @escaping @Sendable (PublishedBatch) -> Void,
        degraded: @escaping @Sendable (String?) -> Void = { _ in },
        newEpoch: @escaping @Sendable (String, UInt64) -> Void = { _, _ in }
    ) {
        state.withLock {
            $0.deliver = deliver
            $0.degraded = degraded
            $0.newEpoch = newEpoch
        }
    }

    /// The cluster's epoch, which clients resume with as `instance`.
    public var epoch: String {
        state.withLock { $0.epoch }
    }

    public var statistics: ClusterStreamStatistics {
        state.withLock { state in
            var copy = state.statistics
            copy.deliveredThrough = state.nextSeq - 1
            copy.waiting = state.pending.count
            return copy
        }
    }

    // MARK: Batches in

    /// A committed batch, from any source; handed on if it is the next one.
    func offer(_ batch: PublishedBatch) {
        let needsLog = state.withLock { state -> Bool in
            guard batch.seq >= state.nextSeq else {
                state.statistics.duplicates += 1
                return false
            }
            state.knownHead = max(state.knownHead, batch.seq)
            if batch.seq == state.nextSeq {
                deliver(batch, &state)
            } else if state.pending.count < Self.maxPending {
                state.pending[batch.seq] = batch
            }
            drain(&state)
            return state.knownHead >= state.nextSeq
        }
        if needsLog { catchUps.yield() }
    }

    /// A seq known committed, whose batch must come from the log.
    func committed(through seq: UInt64) {
        let needsLog = state.withLock { state -> Bool in
            state.knownHead = max(state.knownHead, seq)
            return state.knownHead >= state.nextSeq
        }
        if needsLog { catchUps.yield() }
    }

    private func deliver(_ batch: PublishedBatch, _ state: inout State) {
        state.nextSeq = batch.seq + 1
        state.lastDelivered = BatchFingerprint(batch)
        state.statistics.delivered += 1
        series.add(batch.samples.lazy.map(\.key))
        state.deliver?(batch)
    }

    private func drain(_ state: inout State) {
        while let next = state.pending.removeValue(forKey: state.nextSeq) {
            deliver(next, &state)
        }
    }

    /// The log no longer has `state.nextSeq..<seq`: go on from `seq`.
    private func skip(to seq: UInt64, _ state: inout State) {
        guard seq > state.nextSeq else { return }
        logger.warning("batches lost to this node: the replay log no longer holds them", metadata: [
            "from": "\(state.nextSeq)", "to": "\(seq - 1)",
        ])
        state.statistics.batchesLost += Int(seq - state.nextSeq)
        state.pending = state.pending.filter { $0.key >= seq }
        state.nextSeq = seq
        drain(&state)
    }

    // MARK: Running

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await self.listen() }
                group.addTask {
                    for await _ in self.catchUpStream {
                        await self.catchUp()
                    }
                }
                await group.next()
                group.cancelAll()
            }
        }
        catchUps.finish()
    }

    /// Keeps a LISTEN connection open, reconnecting with backoff.
    private func listen() async {
        var backoff: Duration = .milliseconds(250)
        var id = 1
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(
                    configuration: settings.connectionConfiguration(applicationName: Self.applicationName(node: node)), id: id, logger: logger
                )
                id += 1
                defer { Task { try? await connection.close() } }
                try await connection.listen(on: WriteTransaction.channel) { notifications in
                    // LISTEN is in force: what commits from now on is notified; what
                    // committed before is in the log, up to the head read here.
                    let head = try await reconcile(on: connection)
                    let degraded = state.withLock { state in
                        state.statistics.listening = true
                        state.statistics.connections += 1
                        return state.degraded
                    }
                    backoff = .milliseconds(250)
                    committed(through: head)
                    degraded?(nil)
                    for try await notification in notifications {
                        receive(notification.payload)
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("the stream's LISTEN connection failed; reconnecting", metadata: [
                    "error": "\(String(reflecting: error))", "retry_in": "\(backoff)",
                ])
            }
            let degraded = state.withLock { state in
                state.statistics.listening = false
                return state.degraded
            }
            degraded?("this node lost its connection to PostgreSQL; batches wait there and follow once it is back")
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
    }

    // MARK: Epochs

    /// Reads the head; when the log is no longer the one this node followed, or
    /// another node has started a new epoch, goes on in the new epoch.
    private func reconcile(on connection: PostgresConnection) async throws -> UInt64 {
        // What this node holds first, the head after: a batch this node's writer commits
        // and delivers meanwhile is then below the head read, not taken for a head gone back.
        let (followed, delivered, last) = state.withLock { ($0.epoch, $0.nextSeq - 1, $0.lastDelivered) }
        var (head, epoch) = try await Self.readHead(on: connection, logger: logger)
        var reason: String?
        if epoch != followed {
            reason = "another node started epoch \(epoch)"
        } else if head < delivered {
            reason = "the stream's head went back from \(delivered) to \(head)"
        } else if let last, let logged = try await Self.frame(at: last.seq, on: connection, logger: logger), BatchFingerprint(logged) != last {
            reason = "batch \(last.seq) in the log is not the one this node delivered"
        }
        // (A batch the log no longer has cannot be compared: trimmed by age, it says nothing.)
        guard let reason else { return head }
        if epoch == followed {
            (head, epoch) = try await Self.startEpoch(replacing: followed, on: connection, logger: logger)
        }
        logger.warning("the cluster's stream starts a new epoch: clients get a reset", metadata: [
            "reason": "\(reason)", "epoch": "\(epoch)", "previous_epoch": "\(followed)", "head": "\(head)",
        ])
        state.withLock { state in
            state.epoch = epoch
            state.nextSeq = head + 1
            state.knownHead = head
            state.lastDelivered = nil
            state.pending = state.pending.filter { $0.key > head }
            state.statistics.epochsStarted += 1
            state.newEpoch?(epoch, head)
            drain(&state)
        }
        return head
    }

    private static func readHead(on connection: PostgresConnection, logger: Logger) async throws -> (seq: UInt64, epoch: String) {
        let row = try await connection.query("SELECT seq, epoch FROM stream_head", logger: logger).collect().first
        guard let (seq, epoch) = try row?.decode((Int64, String).self) else { throw ClusterError.noStreamHead }
        return (UInt64(seq), epoch)
    }

    /// Names a new epoch unless another node already has (the row lock makes one
    /// node win); returns the epoch in force and the head it starts from.
    private static func startEpoch(replacing old: String, on connection: PostgresConnection, logger: Logger) async throws -> (seq: UInt64, epoch: String) {
        let new = UUID().uuidString.lowercased()
        let rows = try await connection.query(
            "UPDATE stream_head SET epoch = \(new) WHERE epoch = \(old) RETURNING seq, epoch", logger: logger
        ).collect()
        if let (seq, epoch) = try rows.first?.decode((Int64, String).self) { return (UInt64(seq), epoch) }
        return try await readHead(on: connection, logger: logger)
    }

    private static func frame(at seq: UInt64, on connection: PostgresConnection, logger: Logger) async throws -> PublishedBatch? {
        let rows = try await connection.query("SELECT frame FROM frames WHERE seq = \(Int64(seq))", logger: logger).collect()
        return try rows.first.map { try $0.decode(String.self) }.flatMap(LiveFrame.decodeSamples)
    }

    // MARK: Notifications

    /// A notification's payload: the batch's frame, or its seq alone when the frame was too large.
    private func receive(_ payload: String) {
        if payload.hasPrefix("{") {
            if let batch = LiveFrame.decodeSamples(payload) { offer(batch) }
        } else if let seq = UInt64(payload) {
            committed(through: seq)
        }
    }

    /// Reads the log from the next seq until the known head is delivered.
    private func catchUp() async {
        while !Task.isCancelled {
            let (next, head) = state.withLock { ($0.nextSeq, max($0.knownHead, $0.pending.keys.max() ?? 0)) }
            guard next <= head else { return }
            let batches: [PublishedBatch]
            do {
                batches = try await log.next(from: next, limit: Self.catchUpPage)
            } catch {
                logger.warning("cannot read the replay log; trying again", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            state.withLock { state in
                guard let first = batches.first else {
                    // Committed, yet not in the log: trimmed away. Go on from what is held, if anything.
                    skip(to: state.pending.keys.min() ?? state.knownHead + 1, &state)
                    return
                }
                skip(to: first.seq, &state)
                state.statistics.readFromLog += batches.count
            }
            for batch in batches { offer(batch) }
        }
    }
}

/// What a node's stream has done, for `/metrics` and tests.
public struct ClusterStreamStatistics: Sendable, Equatable {
    /// Whether the LISTEN connection is up.
    public var listening = false
    /// LISTEN connections made (the first, then one per reconnection).
    public var connections = 0
    public var delivered = 0
    public var deliveredThrough: UInt64 = 0
    /// Batches read from the log rather than from a notification or the writer.
    public var readFromLog = 0
    public var duplicates = 0
    /// Batches the log no longer held when this node needed them.
    public var batchesLost = 0
    /// New epochs this node started or joined (a restored or rolled-back log).
    public var epochsStarted = 0
    /// Batches held until the ones before them arrive.
    public var waiting = 0
}
