import Synchronization

/// Runs `body`, or throws `DeadlinePassed` once `limit` has passed: a call into
/// a PostgreSQL that does not answer must not hold a push, or the node's loops,
/// for longer than the node can wait.
///
/// On the deadline the body is cancelled but not waited for (a task group would
/// wait, and postgres-nio's pool does not always end a wait for a connection
/// when cancelled): it may still finish later, and its result is dropped. A
/// write transaction that commits after its deadline is therefore possible, and
/// harmless: its pushes were answered 503 (a retry stores the same rows again,
/// last write wins), and its batch reaches the stream through the log.
func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let settled = Settled()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let timer = Task {
                try? await Task.sleep(for: limit)
                guard settled.first() else { return }
                work.cancel()
                continuation.resume(throwing: DeadlinePassed(limit: limit))
            }
            Task {
                let result = await work.result
                guard settled.first() else { return }
                timer.cancel()
                continuation.resume(with: result)
            }
        }
    } onCancel: {
        work.cancel()
    }
}

struct DeadlinePassed: Error, CustomStringConvertible {
    let limit: Duration
    var description: String { "PostgreSQL did not answer within \(limit)" }
}

/// Which of the body and the timer finished first: the one that resumes the caller.
private final class Settled: Sendable {
    private let done = Atomic<Bool>(false)

    /// True for the first caller only.
    func first() -> Bool {
        !done.exchange(true, ordering: .acquiringAndReleasing)
    }
}
