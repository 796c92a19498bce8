import Metrics
import Foundation
import Hummingbird
import HummingbirdTesting
import PulseCore
import PulseStore
import PulseTestSupport
import Testing

@testable import PulseServer

/// The read seam: `/history` and `/api/series` take a `SampleReader`, so a
/// second store sits behind them unchanged. The same samples in the SQLite
/// store (a real file) and in `MemorySampleStore` must give the same bodies,
/// byte for byte, for raw ranges, every aggregation, steps served from the
/// rollups and from raw rows, `points=`, matchers and the catalog.
@Suite struct StoreContractTests {
    static let base: Int64 = 1_764_460_800_000  // a whole day, so minute buckets align

    /// Two series of integer values (so that sums do not depend on the order of
    /// addition) with gaps, an overwritten ts and a series that ends early.
    static func samples() -> [Sample] {
        var random = SplitMix64(seed: 13)
        var samples: [Sample] = []
        for second in stride(from: 0, to: 1_800, by: 1) where random.next() % 7 != 0 {
            let ts = base + Int64(second) * 1_000 + Int64(random.next() % 900)
            samples.append(Sample(metric: "contract", labels: ["host": "a"], timestamp: ts, value: Double(Int(random.next() % 2_000) - 1_000)))
            if second < 900 {
                samples.append(Sample(metric: "contract", labels: ["host": "b", "zone": "x"], timestamp: ts, value: Double(random.next() % 50)))
            }
        }
        samples.append(Sample(metric: "contract", labels: ["host": "a"], timestamp: samples[0].timestamp, value: 4_242))  // last write wins
        samples.append(Sample(metric: "contract_other", timestamp: base, value: 1))
        return samples
    }

    func router(_ store: some SampleReader) -> Router<BasicRequestContext> {
        let router = Router()
        HistoryController<BasicRequestContext, _>(store: store, limits: QueryLimits(), metrics: QueryMetrics(factory: NOOPMetricsHandler.instance)).addRoutes(to: router)
        return router
    }

    func bodies(_ store: some SampleReader, _ uris: [String]) async throws -> [String] {
        try await Application(router: router(store)).test(.router) { client in
            var bodies: [String] = []
            for uri in uris {
                bodies.append(try await client.execute(uri: uri, method: .get) { response in
                    "\(response.status.code) " + String(buffer: response.body)
                })
            }
            return bodies
        }
    }

    @Test func theSQLiteStoreAndTheMemoryStoreAnswerAlike() async throws {
        let directory = NSTemporaryDirectory() + "pulsegate-contract-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try SampleStore.open(StoreConfiguration(path: directory + "/contract.sqlite"), logger: quietTestLogger)
        let memory = MemorySampleStore()
        for store in [sqlite, memory] as [any SampleWriter] {
            // In two batches, so that the overwrite lands in a later transaction than the first write.
            let all = Self.samples()
            try await store.write(Array(all.dropLast(2)), durability: .committed)
            try await store.write(Array(all.suffix(2)), durability: .committed)
        }
        let from = Self.base, to = Self.base + 1_800_000
        var uris = [
            "/history?metric=contract&from=\(from)&to=\(to)",
            "/history?metric=contract&host=b&from=\(from)&to=\(from + 60_000)",
            "/history?metric=contract&host!=b&from=\(from + 30_500)&to=\(from + 90_250)",
            "/history?metric=contract&zone=x&from=\(from)&to=\(to)&points=100",
            "/history?metric=contract&from=\(to - 100_000)&to=\(to)",  // host b has none there
            "/history?metric=missing&from=\(from)&to=\(to)",
            "/api/series", "/api/series?prefix=contract_", "/api/series?prefix=nothing",
        ]
        for aggregation in Aggregation.allCases {
            for step in ["15s", "7s", "1m", "5m", "1h"] {
                uris.append("/history?metric=contract&from=\(from + 12_345)&to=\(to - 6_789)&step=\(step)&agg=\(aggregation.rawValue)")
            }
        }
        let expected = try await bodies(sqlite, uris)
        let actual = try await bodies(memory, uris)
        #expect(expected.count == uris.count)
        #expect(expected.allSatisfy { $0.hasPrefix("200 ") }, "\(expected.filter { !$0.hasPrefix("200 ") })")
        #expect(expected[0].contains(#"[\#(Self.samples()[0].timestamp),4242.0]"#), "the last write won")
        for (index, uri) in uris.enumerated() {
            #expect(actual[index] == expected[index], "\(uri)")
        }
        await sqlite.close()
    }
}
