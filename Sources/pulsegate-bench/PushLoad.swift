import Foundation
import Synchronization

/// Pushers on plain blocking sockets, one thread each, sending prepared
/// requests back to back until a deadline: the load generator shares the
/// machine's two cores with the servers, and what it spends is not Pulsegate's.
struct PushLoad {
    /// Per pusher: the port it pushes to and its requests, built before the clock starts.
    let pushers: [(port: Int, requests: [[UInt8]])]
    /// Samples in each request.
    let batch: Int

    struct Outcome {
        var accepted = 0
        var failedRequests = 0
        var elapsed = 0.0
        var ranOut = false
        /// Requests each pusher sent, in its order: what a second run can send again.
        var sent: [Int] = []
        var samplesPerSecond: Double { Double(accepted) / elapsed }
    }

    func run(for duration: Double) async throws -> Outcome {
        let connections = try pushers.map { try PlainHTTPConnection(port: $0.port) }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(duration)
        let started = clock.now
        let results = Mutex<[Int: Result<(accepted: Int, failed: Int, sent: Int), any Error>]>([:])
        let done = DispatchGroup()
        for (index, pusher) in pushers.enumerated() {
            done.enter()
            let connection = connections[index]
            let batch = self.batch
            Thread.detachNewThread {
                let result = Result {
                    var counts = (accepted: 0, failed: 0, sent: 0)
                    for request in pusher.requests where clock.now < deadline {
                        if try (200..<300).contains(connection.exchange(request)) { counts.accepted += batch } else { counts.failed += 1 }
                        counts.sent += 1
                    }
                    return counts
                }
                results.withLock { $0[index] = result }
                done.leave()
            }
        }
        await withCheckedContinuation { continuation in
            done.notify(queue: .global()) { continuation.resume() }
        }
        var outcome = Outcome()
        outcome.elapsed = (clock.now - started).seconds
        outcome.ranOut = clock.now < deadline
        let all = try results.withLock { results in try results.keys.sorted().map { try results[$0]!.get() } }
        for counts in all {
            outcome.accepted += counts.accepted
            outcome.failedRequests += counts.failed
            outcome.sent.append(counts.sent)
        }
        return outcome
    }
}
