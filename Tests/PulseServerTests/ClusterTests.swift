import Foundation
import HummingbirdTesting
import NIOCore
import PulseCluster
import PulseCore
import PulseLive
import PulseTestSupport
import Synchronization
import Testing

@testable import PulseServer

/// Cluster mode through real gateways: several nodes in this process, each a
/// real server on its own port, sharing a real PostgreSQL database (the test
/// command's throwaway server, a database per test).
@Suite(.enabled(if: TestPostgres.isAvailable, "needs PULSEGATE_TEST_POSTGRES_URL (scripts/test starts a server)"))
struct ClusterTests {
    struct Node: Sendable {
        let gateway: Gateway
        let client: any TestClientProtocol
        var port: Int { client.port! }
    }

    /// Runs `body` against `count` nodes on one fresh database, named node-1, node-2, …
    func withCluster(
        _ count: Int, configure: @escaping @Sendable (inout AppConfiguration) -> Void = { _ in },
        _ body: @Sendable @escaping ([Node], TestPostgres.Database) async throws -> Void
    ) async throws {
        let database = try await TestPostgres.createDatabase()
        let settings = try PostgresSettings(url: database.url)
        @Sendable func start(_ nodes: [Node]) async throws {
            if nodes.count == count {
                try await body(nodes, database)
                return
            }
            try await withTestGateway({
                $0.cluster = ClusterConfiguration(postgres: settings, node: "node-\(nodes.count + 1)")
                configure(&$0)
            }) { gateway, client in
                try await start(nodes + [Node(gateway: gateway, client: client)])
            }
        }
        do {
            try await start([])
        } catch {
            try? await database.drop()
            throw error
        }
        try await database.drop()
    }

    static func push(_ node: Node, _ samples: [Sample]) async throws -> Int {
        let body = #"{"samples":["# + samples.map { sample in
            #"{"metric":"\#(sample.key.metric)","labels":\#(LabelJSON.encode(sample.key.labels)),"ts":\#(sample.timestamp),"value":\#(sample.value)}"#
        }.joined(separator: ",") + "]}"
        return try await node.client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) {
            Int($0.status.code)
        }
    }

    @Test func aPushToOneNodeReachesTheClientsOfEveryNodeWithTheSameSeq() async throws {
        try await withCluster(3) { nodes, _ in
            #expect(Set(nodes.map(\.gateway.hub.instance)).count == 1, "one epoch for the cluster")
            let clients = try await nodes.asyncMap { try await LiveClient.connect(port: $0.port) }
            let hellos = try await clients.asyncMap { try await $0.frames(1)[0] }
            #expect(Set(hellos.map { $0["instance"] as? String }) == [nodes[0].gateway.hub.instance])

            for index in 1...3 {
                #expect(try await Self.push(nodes[0], testBatch(index)) == 200)
            }
            #expect(try await Self.push(nodes[1], testBatch(4)) == 200)
            var sequences: [[Int]] = []
            for client in clients {
                let frames = try await client.frames(5)
                sequences.append(seqs(frames))
                let values = frames.dropFirst().map { (($0["samples"] as? [[String: Any]])?.first?["value"] as? Double) ?? -1 }
                #expect(values == [1, 2, 3, 4], "every node's client sees the pushes in commit order")
            }
            #expect(Set(sequences).count == 1, "the same seq on every node: \(sequences)")
            // Every node counts the series another node created (the cardinality bounds see them).
            #expect(nodes.allSatisfy { $0.gateway.store.seriesCount == 2 }, "\(nodes.map(\.gateway.store.seriesCount))")
            #expect(sequences[0].count == 4 && zip(sequences[0], sequences[0].dropFirst()).allSatisfy { $0 + 1 == $1 })
            for client in clients { await client.close() }
        }
    }

    @Test func aClientResumesOnAnotherNodeThanTheOneThatServedIt() async throws {
        try await withCluster(2) { nodes, _ in
            let first = try await LiveClient.connect(port: nodes[0].port)
            #expect(try await Self.push(nodes[0], testBatch(1)) == 200)
            let frames = try await first.frames(2)
            let instance = try #require(frames[0]["instance"] as? String)
            let seen = try #require(seqs(frames).last)
            await first.close()

            for index in 2...4 {
                #expect(try await Self.push(nodes[0], testBatch(index)) == 200)
            }
            // Node 2 got them through the stream; the client picks up there, on node 2.
            let resumed = try await LiveClient.connect(port: nodes[1].port, query: "since=\(seen)&instance=\(instance)")
            let replay = try await resumed.frames(4)
            #expect(replay[0]["type"] as? String == "hello")
            #expect(seqs(replay) == [seen + 1, seen + 2, seen + 3])
            #expect(replay.dropFirst().map { (($0["samples"] as? [[String: Any]])?.first?["value"] as? Double) ?? -1 } == [2, 3, 4])
            await resumed.close()
        }
    }

    /// A client resumes on a node from a seq that node has not received yet
    /// (another node committed it a moment ago; a frame too large for a
    /// notification reaches the others through the log, a few ms later). The
    /// node holds the client until it has that batch, then resumes it there: no
    /// reset. Here the batch is committed without a notification, so node 2
    /// stays behind until the next push (through node 1) makes it read the log.
    @Test func aResumeOnANodeStillCatchingUpWaitsForIt() async throws {
        try await withCluster(2) { nodes, database in
            let instance = nodes[1].gateway.hub.instance
            let head = nodes[1].gateway.hub.headSeq
            try await database.execute("UPDATE stream_head SET seq = seq + 1")
            let silent = try #require(UInt64(try await database.scalar("SELECT seq::text FROM stream_head") ?? ""))
            let frame = LiveFrame.samples(seq: silent, serverTime: 1, samples: testBatch(1, metric: "catch_up", series: 1))
            try await database.execute("INSERT INTO frames(seq, frame) VALUES (\(silent), '\(frame)')")
            #expect(nodes[1].gateway.hub.headSeq == head, "node 2 does not have it")

            // The next push, a moment after the client asked: node 2 reads the log and has both.
            let push = Task {
                try await Task.sleep(for: .milliseconds(100))
                return try await Self.push(nodes[0], testBatch(2, metric: "catch_up", series: 1))
            }
            let resumed = try await LiveClient.connect(port: nodes[1].port, query: "since=\(silent)&instance=\(instance)&metric=catch_up")
            #expect(try await push.value == 200)
            let frames = try await resumed.frames(2)
            #expect(frames[0]["type"] as? String == "hello")
            #expect(frames[0]["seq"] as? Int == Int(silent), "resumed where it was")
            #expect(seqs(frames) == [Int(silent) + 1], "and goes on from there")
            #expect(nodes[1].gateway.hub.statistics.resetsServed == 0)
            await resumed.close()
        }
    }

    /// A ring of one batch: a resume from further back is served from the shared log.
    @Test func aRingMissIsServedFromTheReplayLog() async throws {
        try await withCluster(1, configure: { $0.live = LiveConfiguration(ringSamples: 1) }) { nodes, _ in
            let node = nodes[0]
            let watcher = try await LiveClient.connect(port: node.port)
            let hello = try await watcher.frames(1)[0]
            let instance = try #require(hello["instance"] as? String)
            let start = try #require(hello["seq"] as? Int)
            for index in 1...6 {
                #expect(try await Self.push(node, testBatch(index, series: 1)) == 200)
            }
            _ = try await watcher.frames(7)  // all six are through the stream and in the hub
            await watcher.close()
            #expect(node.gateway.hub.coverage.oldestSeq > UInt64(start + 2), "the ring no longer holds the point asked for")

            let resumed = try await LiveClient.connect(port: node.port, query: "since=\(start + 1)&instance=\(instance)")
            let frames = try await resumed.frames(6)
            #expect(!frames.contains { $0["type"] as? String == "reset" })
            #expect(seqs(frames) == Array((start + 2)...(start + 6)))
            #expect(frames.dropFirst().map { (($0["samples"] as? [[String: Any]])?.first?["value"] as? Double) ?? -1 } == [2, 3, 4, 5, 6])
            await resumed.close()
        }
    }

    /// Neither the ring nor the log holds the point: a `reset`, and what it says
    /// to fetch from `/history` plus what follows live is every acknowledged sample.
    @Test func aLogMissGivesAResetAndHistoryPlusLiveIsEverySample() async throws {
        try await withCluster(1, configure: { $0.live = LiveConfiguration(ringSamples: 1) }) { nodes, database in
            let node = nodes[0]
            let watcher = try await LiveClient.connect(port: node.port)
            let hello = try await watcher.frames(1)[0]
            let instance = try #require(hello["instance"] as? String)
            let start = try #require(hello["seq"] as? Int)
            var acknowledged: [Sample] = []
            for index in 1...5 {
                let batch = testBatch(index, metric: "reset_test", series: 1)
                #expect(try await Self.push(node, batch) == 200)
                acknowledged += batch
            }
            _ = try await watcher.frames(6)
            await watcher.close()
            try await database.execute("DELETE FROM frames")

            let resumed = try await LiveClient.connect(port: node.port, query: "since=\(start + 1)&instance=\(instance)&metric=reset_test")
            let opening = try await resumed.frames(2)
            #expect(opening[1]["type"] as? String == "reset")
            let completeFrom = try #require(opening[1]["complete_from_ts"] as? Int)
            let more = testBatch(6, metric: "reset_test", series: 1)
            #expect(try await Self.push(node, more) == 200)
            acknowledged += more
            // Frames until the one that carries the last push (what the ring still had comes first).
            var live: [Int] = []
            var count = 3
            while !live.contains(Int(more[0].timestamp)), count < 12 {
                let frames = try await resumed.frames(count)
                live = frames.filter { $0["type"] as? String == "samples" }
                    .flatMap { ($0["samples"] as? [[String: Any]]) ?? [] }.compactMap { $0["ts"] as? Int }
                count += 1
            }
            let history = try await node.gateway.store.range(SeriesSelector(metric: "reset_test"), from: 0, to: Int64(completeFrom))
                .flatMap(\.points).map { Int($0.timestamp) }
            #expect(Set(history + live) == Set(acknowledged.map { Int($0.timestamp) }), "history to complete_from_ts, then live: every sample")
            #expect(history.count + live.count == acknowledged.count, "and none twice")
            await resumed.close()
        }
    }

    /// `complete_until` on one node counts the samples another node has accepted
    /// and not yet committed (the collector's, buffered for a minute here): a
    /// client that backfills from node B and resumes the stream from there would
    /// otherwise never see them. Once node A commits, B's answer moves past them.
    @Test func completeUntilWaitsForEveryNodesPendingSamples() async throws {
        try await withCluster(2, configure: { $0.store.batchAge = .seconds(60) }) { nodes, _ in
            @Sendable func completeUntil(_ node: Node) async throws -> Int64 {
                try await node.client.execute(uri: "/history?metric=pending_test&from=-1m", method: .get) { response in
                    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    return Int64(try #require(object?["complete_until"] as? Int))
                }
            }
            let stamped = Timestamp.now() - 5_000
            try await nodes[0].gateway.store.write(
                [Sample(metric: "pending_test", timestamp: stamped, value: 1)], durability: .buffered
            )
            // Reported within a probe interval; then every node's answer stays below it.
            let heldBack = try await eventually(timeout: .seconds(10)) { try await completeUntil(nodes[1]) < stamped }
            #expect(heldBack, "node B's complete_until counts node A's pending sample")
            #expect(try await completeUntil(nodes[0]) < stamped)

            try await nodes[0].gateway.store.flush()
            let passed = try await eventually(timeout: .seconds(10)) { try await completeUntil(nodes[1]) >= stamped }
            #expect(passed, "once committed, node B's complete_until moves past it")
            let history = try await nodes[1].gateway.store.range(SeriesSelector(metric: "pending_test"), from: stamped, to: stamped)
            #expect(history.flatMap(\.points).map(\.timestamp) == [stamped])
        }
    }

    /// PostgreSQL comes back with a log that is not the one the nodes followed: a
    /// failover to a replica that lacked the last two commits (the head went back),
    /// or one that went on to commit other batches under the same seqs (the log was
    /// rewritten). Every node starts the same new epoch, its clients are closed and
    /// resume with one `reset`, and the stream goes on under the new epoch.
    @Test(arguments: [false, true])
    func aRolledBackLogStartsANewEpochOnEveryNode(rewritten: Bool) async throws {
        try await withCluster(2) { nodes, database in
            let clients = try await nodes.asyncMap { try await LiveClient.connect(port: $0.port, query: "metric=epoch_test") }
            let old = try #require(try await clients[0].frames(1)[0]["instance"] as? String)
            for index in 1...4 {
                #expect(try await Self.push(nodes[0], testBatch(index, metric: "epoch_test", series: 1)) == 200)
            }
            let seen = try #require(seqs(try await clients[0].frames(5)).last)
            _ = try await clients[1].frames(5)

            // What the replica has: the stream two batches back, and with `rewritten`
            // three other batches after that, the last one's seq beyond what nodes delivered.
            try await database.execute("UPDATE stream_head SET seq = seq - 2")
            try await database.execute("DELETE FROM frames WHERE seq > \(seen - 2)")
            if rewritten {
                for seq in seen - 1...seen + 1 {
                    let frame = LiveFrame.samples(seq: UInt64(seq), serverTime: 1_000.5, samples: testBatch(90 + seq, metric: "other", series: 1))
                    try await database.execute("INSERT INTO frames(seq, frame) VALUES (\(seq), '\(frame)')")
                }
                try await database.execute("UPDATE stream_head SET seq = \(seen + 1)")
            }
            let head = rewritten ? seen + 1 : seen - 2
            // The failover: every connection to the old primary ends.
            try await database.execute("""
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()
                """)

            for client in clients {
                #expect(await client.waitForEnd(timeout: .seconds(20))?.closeCode == .goingAway, "the node closed its clients")
            }
            let changed = await eventually(timeout: .seconds(20)) {
                nodes.allSatisfy { $0.gateway.hub.instance != old }
            }
            #expect(changed, "every node left epoch \(old)")
            let epoch = nodes[0].gateway.hub.instance
            #expect(nodes.allSatisfy { $0.gateway.hub.instance == epoch }, "one new epoch for the cluster")
            #expect(try await database.scalar("SELECT epoch FROM stream_head") == epoch)

            // A client resumes on the other node with what it held: one reset, then the stream goes on.
            let resumed = try await LiveClient.connect(port: nodes[1].port, query: "since=\(seen)&instance=\(old)&metric=epoch_test")
            let opening = try await resumed.frames(2)
            #expect(opening[0]["instance"] as? String == epoch)
            #expect(opening[1]["type"] as? String == "reset")
            // The pool's connections were cut too: a push may be refused once, and is retried.
            var status = 0
            for _ in 1...60 where status != 200 {
                status = try await Self.push(nodes[0], testBatch(5, metric: "epoch_test", series: 1))
                if status != 200 { try await Task.sleep(for: .milliseconds(250)) }
            }
            #expect(status == 200)
            let next = try await resumed.frames(3)
            #expect(seqs(next) == [head + 1], "the new epoch goes on from the head it started at")
            #expect(((next[2]["samples"] as? [[String: Any]])?.first?["value"] as? Double) == 5)
            await resumed.close()

            // What each node says of it at /metrics (and what an embedded node never shows).
            for node in nodes {
                let scrape = try await node.client.execute(uri: "/metrics", method: .get) { MetricsTests.Scrape(String(buffer: $0.body)) }
                #expect(scrape["pulsegate_cluster_epochs_total"] == 1)
                #expect(scrape["pulsegate_cluster_stream_listening"] == 1)
                #expect(scrape["pulsegate_cluster_stream_connections_total"] == 2, "the first LISTEN and the one after the cut")
                #expect(scrape["pulsegate_cluster_stream_delivered_seq"] == Double(head + 1))
                #expect(scrape["pulsegate_cluster_stream_batches_lost_total"] == 0)
                #expect(scrape.hasHelp("pulsegate_cluster_stream_batches_from_log_total"))
            }
        }
    }

    @Test func healthSaysClusterAndNodeAndTheCollectorLabelsItsSamples() async throws {
        try await withCluster(2, configure: { $0.collectInterval = .milliseconds(200) }) { nodes, _ in
            let (status, body) = try await nodes[1].client.execute(uri: "/healthz", method: .get) { (Int($0.status.code), String(buffer: $0.body)) }
            #expect(status == 200)
            let health = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            #expect(health["mode"] as? String == "cluster")
            #expect(health["node"] as? String == "node-2")
            #expect((health["database"] as? String)?.contains(":***@") == true, "the password is not shown: \(body)")
            // Each node's host figures, apart, in the shared history.
            let deadline = ContinuousClock.now + .seconds(15)
            var nodesSeen: Set<String> = []
            while ContinuousClock.now < deadline, nodesSeen.count < 2 {
                try await Task.sleep(for: .milliseconds(200))
                nodesSeen = Set(try await nodes[0].gateway.store.range(SeriesSelector(metric: "host_load1"), from: 0, to: Timestamp.latest)
                    .filter { !$0.points.isEmpty }.compactMap { $0.key[label: "node"] })
            }
            #expect(nodesSeen == ["node-1", "node-2"])
        }
    }
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}

/// PostgreSQL stopped under load and started again: pushes get only 503s
/// (never a 2xx that is not stored), readiness says why, live clients stay
/// and are told, the collector's samples wait, and after the outage every node
/// catches up and its clients go on by seq without a reset.
@Suite(.enabled(if: TestPostgres.isAvailable, "needs PostgreSQL (scripts/test installs it)"), .serialized)
struct ClusterOutageTests {
    @Test func aStoppedAndRestartedPostgresGivesOnly503sAndLosesNothingAcknowledged() async throws {
        let postgres = try await OwnPostgres.start()
        let outcome = await Result { try await outage(postgres) }
        await postgres.stop()
        try outcome.get()
    }

    func outage(_ postgres: OwnPostgres) async throws {
        let settings = try PostgresSettings(url: postgres.url)
        try await withTestGateway({
            $0.cluster = ClusterConfiguration(postgres: settings, node: "node-a")
            $0.collectInterval = .milliseconds(200)
        }) { a, aClient in
            try await withTestGateway({ $0.cluster = ClusterConfiguration(postgres: settings, node: "node-b") }) { _, bClient in
                let watcher = try await LiveClient.connect(port: try #require(bClient.port), query: "metric=outage")

                // One push every 50 ms, each one sample, until told to stop.
                let results = Mutex<[(index: Int, status: Int, retryAfter: String?)]>([])
                let stop = Atomic<Bool>(false)
                let pusher = Task {
                    var index = 0
                    while !stop.load(ordering: .relaxed) {
                        index += 1
                        let body = #"{"samples":[{"metric":"outage","labels":{},"ts":\#(testEpoch + Int64(index)),"value":\#(index)}]}"#
                        let (status, retryAfter) = try await aClient.execute(
                            uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)
                        ) { (Int($0.status.code), $0.headers[.retryAfter]) }
                        results.withLock { $0.append((index, status, retryAfter)) }
                        try await Task.sleep(for: .milliseconds(50))
                    }
                }
                func readyz() async throws -> Int {
                    try await aClient.execute(uri: "/readyz", method: .get) { Int($0.status.code) }
                }
                try await Task.sleep(for: .seconds(1))
                #expect(try await readyz() == 200)

                try await postgres.halt()
                let haltedAt = Timestamp.now()
                // Readiness says so within the probe's interval and a deadline; liveness stays.
                let deadline = ContinuousClock.now + .seconds(10)
                while try await readyz() != 503, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
                #expect(try await readyz() == 503)
                #expect(try await aClient.execute(uri: "/healthz", method: .get) { Int($0.status.code) } == 200)
                try await Task.sleep(for: .seconds(2))
                let resumedAt = Timestamp.now()
                try await postgres.resume()

                // Pushes succeed again.
                let recovery = ContinuousClock.now + .seconds(20)
                while ContinuousClock.now < recovery, results.withLock({ $0.suffix(5).count < 5 || !$0.suffix(5).allSatisfy { $0.status == 200 } }) {
                    try await Task.sleep(for: .milliseconds(100))
                }
                stop.store(true, ordering: .relaxed)
                try await pusher.value
                let all = results.withLock { $0 }
                let acknowledged = Set(all.filter { $0.status == 200 }.map(\.index))
                let refused = all.filter { $0.status != 200 }
                #expect(!refused.isEmpty, "the outage refused some pushes")
                #expect(refused.allSatisfy { $0.status == 503 && $0.retryAfter != nil }, "\(refused.map(\.status))")
                #expect(all.suffix(5).allSatisfy { $0.status == 200 }, "pushes are accepted again after the outage")
                let ready = ContinuousClock.now + .seconds(10)
                while try await readyz() != 200, ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(100)) }
                #expect(try await readyz() == 200)

                // Everything acknowledged is stored; nothing stored that was not pushed.
                let stored = Set(try await a.store.range(SeriesSelector(metric: "outage"), from: 0, to: Timestamp.latest)
                    .flatMap(\.points).map { Int($0.timestamp - testEpoch) })
                #expect(acknowledged.isSubset(of: stored), "acknowledged but not stored: \(acknowledged.subtracting(stored).sorted())")
                #expect(stored.isSubset(of: Set(all.map(\.index))))

                // The client on the other node: told of the outage and of its end, then every
                // acknowledged batch, in seq order, with no hole and no reset.
                var frames: [[String: Any]] = []
                let caughtUp = ContinuousClock.now + .seconds(20)
                var count = 2
                while ContinuousClock.now < caughtUp {
                    frames = try await watcher.frames(count, timeout: .seconds(20))
                    let values = Set(frames.flatMap { ($0["samples"] as? [[String: Any]]) ?? [] }.compactMap { ($0["value"] as? Double).map(Int.init) })
                    if acknowledged.isSubset(of: values) { break }
                    count += 1
                }
                let values = frames.flatMap { ($0["samples"] as? [[String: Any]]) ?? [] }.compactMap { ($0["value"] as? Double).map(Int.init) }
                #expect(acknowledged.isSubset(of: Set(values)))
                #expect(values.count == Set(values).count, "no sample twice")
                #expect(!frames.contains { $0["type"] as? String == "reset" })
                let statuses = frames.filter { $0["type"] as? String == "status" }.compactMap { $0["stream"] as? String }
                #expect(statuses.first == "degraded" && statuses.last == "ok", "\(statuses)")
                let sequence = seqs(frames)
                #expect(zip(sequence, sequence.dropFirst()).allSatisfy { $0 < $1 }, "seq goes forward")
                await watcher.close()

                // The collector's readings from the outage were kept and written with their own times.
                let host = try await a.store.range(SeriesSelector(metric: "host_load1", matchers: [.equal("node", "node-a")]), from: haltedAt, to: resumedAt)
                #expect(!host.flatMap(\.points).isEmpty, "the collector's samples of the outage are in the history")
            }
        }
    }
}

/// remote_write and the Pushgateway API in cluster mode: what they push goes
/// through the cluster's stream like every push; what they say besides
/// samples (metadata, a push group) is the receiving node's own.
extension ClusterTests {
    @Test func remoteWriteAndPushgatewayPushesReachEveryNode() async throws {
        try await withCluster(2) { nodes, _ in
            let base = Timestamp.now()
            let live = try await LiveClient.connect(port: nodes[1].port, query: "metric=cluster_rw")
            let request = RemoteWriteEncoder.writeRequest(
                [.init([("__name__", "cluster_rw"), ("job", "prom")], samples: [(base, 1), (base + 1, 2)])],
                metadata: [.init(type: 2, family: "cluster_rw", help: "A gauge written to node 1.")]
            )
            let written = try await nodes[0].client.execute(
                uri: "/api/v1/write", method: .post, headers: [.contentType: "application/x-protobuf", .contentEncoding: "snappy"],
                body: ByteBuffer(bytes: SnappyBlock.compress(request))
            ) { Int($0.status.code) }
            #expect(written == 204)
            // Committed in the shared store before the 204: the other node reads it at once.
            let stored = try await nodes[1].gateway.store.range(SeriesSelector(metric: "cluster_rw"), from: base, to: base + 1)
            #expect(stored.map(\.points) == [[Point(base, 1), Point(base + 1, 2)]])
            let frames = try await live.frames(2)
            #expect((frames[1]["samples"] as? [[String: Any]])?.compactMap { $0["value"] as? Double } == [1, 2], "node 2's client sees node 1's write")
            await live.close()
            let first = try await MetricsTests.scrape(nodes[0].client)
            #expect(first.type(of: "cluster_rw") == "gauge", "the metadata is the receiving node's")
            #expect(first[#"cluster_rw{job="prom"}"#] == 2)

            let ownLive = try await LiveClient.connect(port: nodes[0].port, query: "metric=cluster_pg")
            let pushed = try await nodes[0].client.execute(
                uri: "/metrics/job/nightly", method: .put, headers: [.contentType: "text/plain"], body: ByteBuffer(string: "# TYPE cluster_pg gauge\ncluster_pg 5\n")
            ) { Int($0.status.code) }
            #expect(pushed == 200)
            #expect(try await nodes[1].gateway.store.range(SeriesSelector(metric: "cluster_pg"), from: 0, to: Timestamp.latest).map { $0.points.map(\.value) } == [[5]])
            // The stream brings the group's samples back to node 1's latest values (its live
            // client seeing them is the sign): the group alone shows them there.
            _ = try await ownLive.frames(2)
            await ownLive.close()
            try await Task.sleep(for: .milliseconds(100))
            #expect(await eventually(timeout: .seconds(5)) { (try? await MetricsTests.scrape(nodes[1].client))?[#"cluster_pg{job="nightly"}"#] == 5 })
            let scrape = try await MetricsTests.scrape(nodes[0].client)
            #expect(scrape.text.components(separatedBy: "\ncluster_pg").count == 2, "\(scrape.text.components(separatedBy: "\n").filter { $0.contains("cluster_pg") })")
            #expect(scrape[#"cluster_pg{instance="",job="nightly"}"#] == 5)
            #expect(scrape[#"cluster_pg{job="nightly"}"#] == nil)
        }
    }
}
