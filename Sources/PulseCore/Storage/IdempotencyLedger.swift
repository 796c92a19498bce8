import Synchronization

/// The keys of keyed writes, in memory, for a store that is the only writer of
/// its data (the embedded SQLite store): a write runs once per key within
/// `IdempotencyKey.retention`; a second one with the same key waits for the
/// first and answers as it did. A restart forgets the keys (the cluster's store
/// keeps them in PostgreSQL, with the samples, in the same transaction).
public final class IdempotencyLedger: Sendable {
    private enum Entry {
        case inFlight([CheckedContinuation<Int?, Never>])
        case stored(accepted: Int, at: ContinuousClock.Instant)
    }

    private struct State {
        var entries: [IdempotencyKey: Entry] = [:]
        var lastPrune = ContinuousClock.now
    }

    private let retention: Duration
    private let state = Mutex(State())

    public init(retention: Duration = IdempotencyKey.retention) {
        self.retention = retention
    }

    /// Runs `write` (which stores `count` samples) unless a write with `key` was
    /// stored; a failed write leaves the key free for a retry.
    public func once(_ key: IdempotencyKey, count: Int, _ write: () async throws -> Void) async throws -> WriteReceipt {
        while true {
            enum Claim { case mine, stored(Int), wait }
            let claim = state.withLock { state -> Claim in
                prune(&state)
                switch state.entries[key] {
                case let .stored(accepted, _): return .stored(accepted)
                case .inFlight: return .wait
                case nil:
                    state.entries[key] = .inFlight([])
                    return .mine
                }
            }
            switch claim {
            case let .stored(accepted):
                return .duplicate(accepted: accepted)
            case .wait:
                let accepted = await withCheckedContinuation { continuation in
                    state.withLock { state in
                        if case var .inFlight(waiters) = state.entries[key] {
                            waiters.append(continuation)
                            state.entries[key] = .inFlight(waiters)
                        } else {
                            continuation.resume(returning: nil)  // settled meanwhile: look again
                        }
                    }
                }
                if let accepted { return .duplicate(accepted: accepted) }
            case .mine:
                do {
                    try await write()
                } catch {
                    settle(key, accepted: nil)
                    throw error
                }
                settle(key, accepted: count)
                return .stored
            }
        }
    }

    private func settle(_ key: IdempotencyKey, accepted: Int?) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int?, Never>] in
            guard case let .inFlight(waiters) = state.entries[key] else { return [] }
            state.entries[key] = accepted.map { .stored(accepted: $0, at: .now) }
            return waiters
        }
        for waiter in waiters { waiter.resume(returning: accepted) }
    }

    private func prune(_ state: inout State) {
        let now = ContinuousClock.now
        guard now - state.lastPrune > .seconds(1) else { return }
        state.lastPrune = now
        state.entries = state.entries.filter { _, entry in
            if case let .stored(_, at) = entry { return now - at < retention }
            return true
        }
    }
}
