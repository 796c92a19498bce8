import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PulseCluster
import PulseCore
@testable import PulseServer
import PulseTestSupport
import Testing

/// `Idempotency-Key` on `POST /ingest`: a push sent again is answered as the
/// first time and stored once, on the embedded store and across a cluster's nodes.
@Suite struct IdempotencyTests {
    static func push(_ client: any TestClientProtocol, value: Double, key: String?, ts: Int64 = testEpoch) async throws -> (status: Int, accepted: Int?, replayed: Bool) {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.idempotencyKey] = key }
        let body = #"{"samples":[{"metric":"keyed","labels":{"a":"1"},"ts":\#(ts),"value":\#(value)},{"metric":"keyed","labels":{"a":"2"},"ts":\#(ts),"value":\#(value)}]}"#
        return try await client.execute(uri: "/ingest", method: .post, headers: headers, body: ByteBuffer(string: body)) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any]
            return (Int(response.status.code), object?["accepted"] as? Int, response.headers[.idempotentReplayed] == "true")
        }
    }

    /// The same checks on one node (`first` and `second` the same client) or two.
    static func checkRetries(store: any SampleStorage, first: any TestClientProtocol, second: any TestClientProtocol, live: LiveClient) async throws {
        let key = UUID().uuidString
        var answer = try await push(first, value: 1, key: key)
        #expect(answer.status == 200 && answer.accepted == 2 && !answer.replayed)
        // Sent again (another body even): the first answer, nothing stored.
        answer = try await push(second, value: 9, key: key)
        #expect(answer.status == 200 && answer.accepted == 2 && answer.replayed)
        #expect(try await store.range(SeriesSelector(metric: "keyed"), from: 0, to: Timestamp.latest).flatMap(\.points).map(\.value) == [1, 1])

        // Five at once with one new key: one is stored, every one is answered 200.
        let racing = UUID().uuidString
        let answers = try await withThrowingTaskGroup(of: (status: Int, accepted: Int?, replayed: Bool).self) { group in
            for index in 0..<5 {
                group.addTask { try await push(index % 2 == 0 ? first : second, value: 5, key: racing, ts: testEpoch + 1) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.allSatisfy { $0.status == 200 && $0.accepted == 2 })
        #expect(answers.filter { !$0.replayed }.count == 1, "\(answers)")

        // A push without a key is stored as pushed, a bad key refused with nothing stored.
        #expect(try await push(first, value: 7, key: nil, ts: testEpoch + 2).status == 200)
        for bad in ["", String(repeating: "k", count: 129), "with space", "tab\tinside"] {
            #expect(try await push(first, value: 8, key: bad, ts: testEpoch + 3).status == 400, "\(bad)")
        }
        let values = try await store.range(SeriesSelector(metric: "keyed"), from: 0, to: Timestamp.latest).flatMap(\.points).map(\.value)
        #expect(values.sorted() == [1, 1, 5, 5, 7, 7])

        // The live stream carried each stored push once: a last push marks the end
        // (frames come in seq order, so a duplicate would stand before it).
        #expect(try await push(first, value: 11, key: nil, ts: testEpoch + 4).status == 200)
        let frames = try await live.frames(5)
        #expect(frames.dropFirst().map { (($0["samples"] as? [[String: Any]])?.first?["value"] as? Double) ?? -1 } == [1, 5, 7, 11])
        #expect(await live.texts.count == 5)
    }

    @Test func theEmbeddedStoreStoresAKeyedPushOnce() async throws {
        try await withTestGateway { gateway, client in
            let live = try await LiveClient.connect(port: try #require(client.port), query: "metric=keyed")
            try await Self.checkRetries(store: gateway.store, first: client, second: client, live: live)
            await live.close()
        }
    }

    @Test(.enabled(if: TestPostgres.isAvailable, "needs PULSEGATE_TEST_POSTGRES_URL (scripts/test starts a server)"))
    func aClusterStoresAKeyedPushOnceWhicheverNodeGetsTheRetry() async throws {
        let database = try await TestPostgres.createDatabase()
        let settings = try PostgresSettings(url: database.url)
        let outcome = await Result {
            try await withTestGateway({ $0.cluster = ClusterConfiguration(postgres: settings, node: "a") }) { a, aClient in
                try await withTestGateway({ $0.cluster = ClusterConfiguration(postgres: settings, node: "b") }) { _, bClient in
                    let live = try await LiveClient.connect(port: try #require(bClient.port), query: "metric=keyed")
                    try await Self.checkRetries(store: a.store, first: aClient, second: bClient, live: live)
                    await live.close()
                }
            }
        }
        try await database.drop()
        try outcome.get()
    }
}
