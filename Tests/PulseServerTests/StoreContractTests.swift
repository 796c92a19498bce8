import Metrics
import Foundation
import Hummingbird
import HummingbirdTesting
import PulseCluster
import PulseCore
import PulseStore
import PulseTestSupport
import Testing

@testable import PulseServer

/// The read seam: `/history` and `/api/series` take a `SampleReader`, so other
/// stores sit behind them unchanged. The same samples in the SQLite store (a
/// real file), in `MemorySampleStore` and in the cluster's PostgreSQL store (on
/// every node) must give the same bodies,
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

    /// Writes the samples in two batches, so that the overwrite lands in a later
    /// transaction than the first write (on another node, when two are given).
    static func fill(_ first: any SampleWriter, then second: (any SampleWriter)? = nil) async throws {
        let all = samples()
        try await first.write(Array(all.dropLast(2)), durability: .committed)
        try await (second ?? first).write(Array(all.suffix(2)), durability: .committed)
    }

    /// Raw ranges, matchers, `points=`, every aggregation at steps served from the
    /// rollups and from raw rows, and the catalog. Every range lies in the past, so
    /// `complete_until` is its `to` on every store and is compared too.
    static var uris: [String] {
        let from = base, to = base + 1_800_000
        var uris = [
            "/history?metric=contract&from=\(from)&to=\(to)",
            "/history?metric=contract&host=b&from=\(from)&to=\(from + 60_000)",
            "/history?metric=contract&host!=b&from=\(from + 30_500)&to=\(from + 90_250)",
            "/history?metric=contract&zone=x&from=\(from)&to=\(to)&points=100",
            "/history?metric=contract&from=\(to - 100_000)&to=\(to)",  // host b has none there
            "/history?metric=missing&from=\(from)&to=\(to)",
            // Whole minutes from the rollups, the overwritten sample's minute among them.
            "/history?metric=contract&from=\(from)&to=\(from + 599_999)&step=1m&agg=max",
            "/history?metric=contract&from=\(from)&to=\(from + 599_999)&step=5m&agg=sum",
            "/api/series", "/api/series?prefix=contract_", "/api/series?prefix=nothing",
        ]
        for aggregation in Aggregation.allCases {
            for step in ["15s", "7s", "1m", "5m", "1h"] {
                uris.append("/history?metric=contract&from=\(from + 12_345)&to=\(to - 6_789)&step=\(step)&agg=\(aggregation.rawValue)")
            }
        }
        return uris
    }

    /// The bodies of the SQLite store (a real file): what every other store must answer.
    func sqliteBodies() async throws -> [String] {
        let directory = NSTemporaryDirectory() + "pulsegate-contract-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let sqlite = try SampleStore.open(StoreConfiguration(path: directory + "/contract.sqlite"), logger: quietTestLogger)
        try await Self.fill(sqlite)
        let expected = try await bodies(sqlite, Self.uris)
        await sqlite.close()
        #expect(expected.count == Self.uris.count)
        #expect(expected.allSatisfy { $0.hasPrefix("200 ") }, "\(expected.filter { !$0.hasPrefix("200 ") })")
        #expect(expected[0].contains(#"[\#(Self.samples()[0].timestamp),4242.0]"#), "the last write won")
        return expected
    }

    func expectSame(_ actual: [String], as expected: [String], _ store: String) {
        for (index, uri) in Self.uris.enumerated() where actual[index] != expected[index] {
            // Where they part, not two whole bodies of thousands of points.
            let common = zip(actual[index], expected[index]).prefix { $0 == $1 }.count
            Issue.record("\(store): \(uri) differs from byte \(common): \(actual[index].dropFirst(max(0, common - 40)).prefix(120)) instead of \(expected[index].dropFirst(max(0, common - 40)).prefix(120))")
        }
    }

    @Test func theSQLiteStoreAndTheMemoryStoreAnswerAlike() async throws {
        let expected = try await sqliteBodies()
        let memory = MemorySampleStore()
        try await Self.fill(memory)
        expectSame(try await bodies(memory, Self.uris), as: expected, "memory")
    }

    /// Two cluster nodes on one database (the test command's PostgreSQL): the first
    /// batch written through one, the overwrite through the other, and both nodes
    /// answer every request exactly as the SQLite store does.
    @Test(.enabled(if: TestPostgres.isAvailable, "needs PULSEGATE_TEST_POSTGRES_URL (scripts/test starts a server)"))
    func everyClusterNodeAnswersAsTheSQLiteStoreDoes() async throws {
        let expected = try await sqliteBodies()
        let database = try await TestPostgres.createDatabase()
        let settings = try PostgresSettings(url: database.url)
        let nodeA = try await PostgresStoreService.open(ClusterStoreConfiguration(postgres: settings, node: "a"), logger: quietTestLogger)
        let nodeB = try await PostgresStoreService.open(ClusterStoreConfiguration(postgres: settings, node: "b"), logger: quietTestLogger)
        do {
            try await Self.fill(nodeA.store, then: nodeB.store)
            // A node's `complete_until` counts what the others last reported (every
            // `probeInterval`): a report node A made while its write was in flight holds
            // node B's back until A reports again. Compared once every report is current.
            let settled = Self.base + 1_800_000
            let current = await eventually(timeout: .seconds(10)) {
                nodeA.store.committedThrough() >= settled && nodeB.store.committedThrough() >= settled
            }
            #expect(current, "every node reports its writes committed")
            expectSame(try await bodies(nodeA.store, Self.uris), as: expected, "node A")
            expectSame(try await bodies(nodeB.store, Self.uris), as: expected, "node B")
        } catch {
            Issue.record(error)
        }
        await nodeA.close()
        await nodeB.close()
        try await database.drop()
    }
}
