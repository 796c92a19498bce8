import Foundation
import Hummingbird
import HummingbirdCore
@testable import PulseServer
import PulseTestSupport
import Testing

/// `/history`'s parameter parser against random queries for a bounded time
/// (`PULSEGATE_FUZZ_SECONDS`, default 3 s): every query is either a request
/// within the bounds or a 400, never a crash, a hang or anything else.
extension CPUBoundSuites {
@Suite struct HistoryParameterFuzzTests {
    static let keys = ["metric", "from", "to", "step", "points", "agg", "host", "host!", "__name__", "", "a%20b", "metric", "from"]
    static let values = [
        "cpu", "host_cpu_usage_ratio", "-1h", "now", "now-15m", "-0s", "1764470000000", "2026-11-30T03:00:00Z", "2026-13-40T99:99:99Z",
        "15s", "1m", "1h30m", "0", "-5s", "1e3", "99999999999999999999", "avg", "median", "1000", "11000", "11001", "", "%", "%zz", "+",
        "%F0%9F%98%80", "%00", "9223372036854775807", "-9223372036854775808", "1ms", "1y", "7d", "now-9999999d",
    ]

    @Test func everyQueryIsARequestWithinBoundsOrA400() async {
        let seconds = Double(ProcessInfo.processInfo.environment["PULSEGATE_FUZZ_SECONDS"] ?? "") ?? 3
        let seed = UInt64(ProcessInfo.processInfo.environment["PULSEGATE_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        var random = SplitMix64(seed: seed)
        let limits = QueryLimits()
        let now: Int64 = 1_764_470_000_000
        let deadline = Date().addingTimeInterval(seconds)
        var queries = 0, accepted = 0
        while Date() < deadline {
            let query: String
            if random.next() % 10 == 0 {
                // Raw bytes, as a hostile client might send them, in any order.
                query = String(decoding: random.bytes(count: Int(random.next() % 80)).map { $0 == 0 ? 0x25 : $0 }, as: UTF8.self)
            } else {
                var parameters: [String] = []
                for _ in 0..<(1 + random.next() % 6) {
                    let key = Self.keys[Int(random.next() % UInt64(Self.keys.count))]
                    let value = Self.values[Int(random.next() % UInt64(Self.values.count))]
                    parameters.append(key + "=" + value)
                }
                query = parameters.joined(separator: "&")
            }
            let started = threadCPUTime()
            do {
                let request = try HistoryRequest(uri: URI("/history?" + query), now: now, limits: limits)
                accepted += 1
                #expect(request.from <= request.to && request.to - request.from <= limits.maxRange, "seed \(seed): \(query)")
                if let step = request.step {
                    #expect(step > 0 && request.to / step - request.from / step + 1 <= Int64(limits.maxPoints), "seed \(seed): \(query)")
                }
            } catch let error as APIError {
                #expect(error.status == .badRequest && !error.message.isEmpty, "seed \(seed): \(query)")
            } catch {
                Issue.record("seed \(seed): \(query) threw \(error)")
            }
            #expect(threadCPUTime() - started < 1, "seed \(seed): \(query) took more than a second of CPU")
            queries += 1
            if queries % 256 == 0 { await Task.yield() }  // leave the cooperative pool to the other tests now and then
        }
        print("history fuzz (seed \(seed)): \(queries) queries in \(seconds) s, \(accepted) accepted")
        #expect(queries > 100)
    }
}
}
