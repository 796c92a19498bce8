import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PulseCore
import PulseLive
@testable import PulseServer
@testable import PulseStore
import Synchronization
import Testing

/// Every number an endpoint reports, against something the test knows on its
/// own: the wall clock, a count it made, the sizes of files, this process in
/// `/proc` (in-process tests serve from the test process). A field that is
/// present but wrong (a unit slip, an operator-precedence slip) fails here.
@Suite struct ReportedValuesTests {
    typealias Scrape = MetricsTests.Scrape

    func scrape(_ client: any TestClientProtocol) async throws -> Scrape {
        try await client.execute(uri: "/metrics", method: .get) { Scrape(String(buffer: $0.body)) }
    }

    func get(_ client: any TestClientProtocol, _ uri: String) async throws -> (Int, [String: Any]) {
        try await client.execute(uri: uri, method: .get) { response in
            (Int(response.status.code), (try? JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]) ?? [:])
        }
    }

    func push(_ client: any TestClientProtocol, _ json: String) async throws -> (Int, String) {
        try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json)) {
            (Int($0.status.code), String(buffer: $0.body))
        }
    }

    static func milliseconds() -> Double { Date().timeIntervalSince1970 * 1000 }

    // MARK: /healthz

    /// The controller as built with a start 121.5 s ago says 121.5 s (the precedence slip said 0.1215).
    @Test func uptimeIsTheTimeSinceTheStart() async throws {
        let directory = NSTemporaryDirectory() + "pulsegate-health-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SampleStore.open(StoreConfiguration(path: directory + "/h.sqlite"), logger: quietTestLogger)
        let router = Router()
        let built = ContinuousClock.now
        HealthController<BasicRequestContext>(database: "h.sqlite", mode: .embedded, startedAt: built - .milliseconds(121_500), writer: store).addRoutes(to: router)
        try await Application(router: router).test(.router) { client in
            let (status, body) = try await get(client, "/healthz")
            let asked = ContinuousClock.now - built
            #expect(status == 200)
            let uptime = try #require(body["uptime_seconds"] as? Double)
            // Rounded to the millisecond; the request itself took at most `asked`.
            #expect(uptime >= 121.5 - 0.001 && uptime <= 121.5 + asked.seconds + 0.001, "uptime \(uptime), asked \(asked) after building")
        }
        await store.close()
    }

    /// Through a real server, more than two seconds after it was built: the wall clock's figure.
    @Test func uptimeThroughTheServerFollowsTheWallClock() async throws {
        let beforeBuild = ContinuousClock.now
        try await withTestGateway { _, client in
            let afterBuild = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(2_100))
            let asked = ContinuousClock.now
            let (status, body) = try await get(client, "/healthz")
            let answered = ContinuousClock.now
            #expect(status == 200)
            let uptime = try #require(body["uptime_seconds"] as? Double)
            // Started between beforeBuild and afterBuild; answered between asked and answered.
            let least = (asked - afterBuild).seconds - 0.001, most = (answered - beforeBuild).seconds + 0.001
            #expect(uptime >= 2 && uptime >= least && uptime <= most, "uptime \(uptime), expected \(least)...\(most)")
        }
    }

    // MARK: /metrics: the process

    /// The process figures against this process as the test reads it, and the kernel's own clocks.
    @Test func processFiguresAreThisProcesss() async throws {
        try await withTestGateway { _, client in
            let cpuBefore = Self.processCPUSeconds()
            let scrape = try await scrape(client)
            let cpuAfter = Self.processCPUSeconds()
            let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ").compactMap { Double($0) }
            let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
            let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count

            // CPU in seconds, not ticks: within the CPU clock's readings around the scrape (ticks are 10 ms).
            let cpu = try #require(scrape["process_cpu_seconds_total"])
            #expect(cpu >= cpuBefore - 0.05 && cpu <= cpuAfter + 0.05, "cpu \(cpu) s; the CPU clock said \(cpuBefore)...\(cpuAfter)")

            // Start time: btime + starttime / CLK_TCK, to the tick, computed here from /proc.
            let stat = try String(contentsOfFile: "/proc/self/stat", encoding: .utf8)
            let afterName = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
            let startTicks = try #require(Double(afterName[19]))
            let bootLine = try #require(try String(contentsOfFile: "/proc/stat", encoding: .utf8).split(separator: "\n").first { $0.hasPrefix("btime ") })
            let bootTime = try #require(Double(bootLine.dropFirst(6)))
            let expectedStart = bootTime + startTicks / Double(sysconf(Int32(_SC_CLK_TCK)))
            let start = try #require(scrape["process_start_time_seconds"])
            #expect(abs(start - expectedStart) < 0.011, "start \(start), /proc says \(expectedStart)")
            #expect(start <= Date().timeIntervalSince1970)

            // Memory in bytes (pages × page size): other tests run beside this one, so within a factor.
            let resident = try #require(scrape["process_resident_memory_bytes"])
            let virtual = try #require(scrape["process_virtual_memory_bytes"])
            #expect(resident > statm[1] * pageSize / 2 && resident < statm[1] * pageSize * 2, "rss \(resident), statm \(statm[1]) pages")
            #expect(virtual > statm[0] * pageSize / 2 && virtual < statm[0] * pageSize * 2, "vsz \(virtual), statm \(statm[0]) pages")
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            #expect(resident <= Double(usage.ru_maxrss) * 1024, "above the peak the kernel tells getrusage")

            // Descriptors: the count here, give or take what tests beside this one open and close.
            let open = try #require(scrape["process_open_fds"])
            #expect(abs(open - Double(fds)) <= max(20, Double(fds) / 4), "open fds \(open), /proc/self/fd lists \(fds)")
            var limit = rlimit()
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            if limit.rlim_cur != rlim_t.max {
                #expect(scrape["process_max_fds"] == Double(limit.rlim_cur))
            }
        }
    }

    static func processCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    // MARK: /metrics: the store

    /// Buckets of a histogram family without labels, by upper bound.
    func buckets(_ scrape: Scrape, _ family: String) -> [(le: Double, count: Double)] {
        scrape.values.compactMap { series, count in
            guard series.hasPrefix(family + #"_bucket{le=""#) else { return nil }
            let bound = series.dropFirst(family.count + 12).dropLast(2)
            return (bound == "+Inf" ? .infinity : Double(bound) ?? .nan, count)
        }.sorted { $0.le < $1.le }
    }

    @Test func storeFiguresAreTheCommitsMadeAndTheFilesOnDisk() async throws {
        try await withTestGateway({
            // Nothing commits unless asked: what is pending stays pending.
            $0.store.batchSize = 1_000_000
            $0.store.batchAge = .seconds(3600)
        }) { gateway, client in
            let idle = try await scrape(client)
            #expect(idle["pulsegate_store_pending_samples"] == 0)
            #expect(idle["pulsegate_store_commit_duration_seconds_count"] == 0)

            // One commit of 7 samples, timed from outside.
            let now = Timestamp.now()
            let seven = (0..<7).map { Sample(metric: "store_figures", labels: ["i": "\($0)"], timestamp: now, value: 1) }
            let started = ContinuousClock.now
            try await gateway.pipeline.accept(seven, from: .ingest, durability: .committed)
            let took = (ContinuousClock.now - started).seconds

            // Five more, queued behind an hour's batch age.
            let five = (0..<5).map { Sample(metric: "store_figures", labels: ["i": "\($0)"], timestamp: now + 1000, value: 2) }
            try await gateway.pipeline.accept(five, from: .ingest, durability: .buffered)

            let path = gateway.store.location
            let sizeBefore = Self.fileSize(path) + Self.fileSize(path + "-wal")
            let scrape = try await scrape(client)
            let sizeAfter = Self.fileSize(path) + Self.fileSize(path + "-wal")

            #expect(scrape["pulsegate_store_pending_samples"] == 5)
            #expect(scrape["pulsegate_store_rows_written_total"] == 7)
            #expect(sizeBefore == sizeAfter, "nothing wrote between the two looks")
            #expect(scrape["pulsegate_store_database_bytes"] == Double(sizeAfter), "the file and its log: \(sizeAfter) bytes")

            // The batch-size histogram: one commit of 7, in the buckets from 10 up.
            #expect(scrape["pulsegate_store_batch_samples_count"] == 1)
            #expect(scrape["pulsegate_store_batch_samples_sum"] == 7)
            for (le, count) in buckets(scrape, "pulsegate_store_batch_samples") {
                #expect(count == (le >= 7 ? 1 : 0), "batch_samples le=\(le): \(count)")
            }
            // The commit's duration, in seconds: no longer than the write around it took.
            #expect(scrape["pulsegate_store_commit_duration_seconds_count"] == 1)
            let commit = try #require(scrape["pulsegate_store_commit_duration_seconds_sum"])
            #expect(commit > 0 && commit <= took, "commit \(commit) s within a write of \(took) s")
            let durationBuckets = buckets(scrape, "pulsegate_store_commit_duration_seconds")
            #expect(!durationBuckets.isEmpty)
            for (le, count) in durationBuckets {
                if le >= took { #expect(count == 1, "commit_duration le=\(le): \(count), the write took \(took) s") }
                if le < commit { #expect(count == 0, "commit_duration le=\(le): \(count), the commit took \(commit) s") }
            }
        }
    }

    static func fileSize(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
    }

    /// A store that cannot write: the push gets a 503, `/readyz` says so, the failed
    /// transaction is counted; once it can write again, both are back to 200.
    /// (The failure is a trigger that aborts every insert, which needs no root.)
    @Test func aStoreThatCannotWriteIsNotReadyAndCountsTheFailure() async throws {
        try await withTestGateway { gateway, client in
            let ts = Timestamp.now()
            #expect(try await get(client, "/readyz").0 == 200)
            let saboteur = try SQLiteConnection(path: gateway.store.location, readOnly: false)
            try saboteur.execute("CREATE TRIGGER refuse_writes BEFORE INSERT ON head BEGIN SELECT RAISE(ABORT, 'seeded write failure'); END")

            let (refused, body) = try await push(client, #"{"samples":[{"metric":"cannot_write","ts":\#(ts),"value":1}]}"#)
            #expect(refused == 503, "\(body)")
            #expect(body.contains("not stored"), "\(body)")
            let (notReady, reason) = try await get(client, "/readyz")
            #expect(notReady == 503)
            #expect((reason["error"] as? String)?.contains("cannot write") == true, "\(reason)")
            #expect(try await scrape(client)["pulsegate_store_write_errors_total"] == 1)

            try saboteur.execute("DROP TRIGGER refuse_writes")
            #expect(try await push(client, #"{"samples":[{"metric":"cannot_write","ts":\#(ts + 1),"value":2}]}"#).0 == 200)
            #expect(try await get(client, "/readyz").0 == 200)
            let after = try await scrape(client)
            #expect(after["pulsegate_store_write_errors_total"] == 1)
            #expect(try await gateway.store.range(SeriesSelector(metric: "cannot_write"), from: 0, to: .max).flatMap(\.points) == [Point(ts + 1, 2)])
        }
    }

    // MARK: /history

    /// With nothing waiting for the writer, `complete_until` is two seconds behind
    /// the request's now; the default range is the hour before now, echoed as numbers.
    @Test func completeUntilTrailsNowByTheGraceAndTheDefaultRangeIsTheLastHour() async throws {
        try await withTestGateway { _, client in
            let asked = Timestamp.now()
            let (status, body) = try await get(client, "/history?metric=nothing_here")
            let answered = Timestamp.now()
            #expect(status == 200)
            let to = try #require(body["to"] as? Int64), from = try #require(body["from"] as? Int64)
            let completeUntil = try #require(body["complete_until"] as? Int64)
            #expect(to >= asked && to <= answered, "to \(to), asked at \(asked), answered at \(answered)")
            #expect(from == to - 3_600_000)
            #expect(completeUntil >= asked - 2_000 && completeUntil <= answered - 2_000, "complete_until \(completeUntil), now was \(asked)...\(answered)")
        }
    }

    /// A sample accepted but not committed holds `complete_until` just before its ts.
    @Test func completeUntilStopsBeforeTheOldestUncommittedSample() async throws {
        try await withTestGateway({
            $0.store.batchSize = 1_000_000
            $0.store.batchAge = .seconds(3600)
        }) { gateway, client in
            let pendingTs = Timestamp.now() - 600_000
            try await gateway.pipeline.accept([Sample(metric: "pending_one", timestamp: pendingTs, value: 1)], from: .ingest, durability: .buffered)
            try await gateway.pipeline.accept([Sample(metric: "pending_one", timestamp: pendingTs + 60_000, value: 2)], from: .ingest, durability: .buffered)
            let (status, body) = try await get(client, "/history?metric=pending_one&from=-1h")
            #expect(status == 200)
            #expect(body["complete_until"] as? Int64 == pendingTs - 1)
            #expect((body["series"] as? [Any])?.isEmpty == true, "not committed, not served")
            // Explicit bounds are echoed as given.
            let (_, explicit) = try await get(client, "/history?metric=pending_one&from=\(pendingTs - 5_000)&to=\(pendingTs - 4_000)")
            #expect(explicit["from"] as? Int64 == pendingTs - 5_000 && explicit["to"] as? Int64 == pendingTs - 4_000)
            #expect(explicit["complete_until"] as? Int64 == pendingTs - 4_000, "a range wholly before the pending sample is complete")
        }
    }

    // MARK: /ws/metrics

    /// Hello's `head_seq`, `ring` and `server_ts`, against what was published and the clock.
    @Test func helloTellsWhatWasPublishedAndWhen() async throws {
        let beforeHub = Timestamp.now()
        try await withTestGateway { gateway, client in
            let afterHub = Timestamp.now()
            for index in 1...5 { try await gateway.pipeline.accept(testBatch(index), from: .ingest, durability: .buffered) }
            let connecting = Self.milliseconds()
            let live = try await LiveClient.connect(port: try #require(client.port))
            let hello = try await live.frames(1)[0]
            let received = await live.receivedAt[0]
            #expect(hello["head_seq"] as? Int == 5)
            let ring = try #require(hello["ring"] as? [String: Int])
            #expect(ring["oldest_seq"] == 1 && ring["newest_seq"] == 5, "\(ring)")
            // Nothing evicted yet: the ring is complete from the hub's start.
            let completeFrom = try #require(ring["complete_from_ts"])
            #expect(Int64(completeFrom) >= beforeHub && Int64(completeFrom) <= afterHub, "complete_from_ts \(completeFrom), the hub started in \(beforeHub)...\(afterHub)")
            let serverTime = try #require(hello["server_ts"] as? Double)
            #expect(serverTime >= connecting - 1 && serverTime <= received + 1, "server_ts \(serverTime), connected in \(connecting)...\(received)")
            await live.close()
        }
    }

    /// After evictions: the ring's first seq and the latest ts it let go of.
    @Test func helloOfARingThatHasEvicted() async throws {
        try await withTestGateway({ $0.live = LiveConfiguration(ringSamples: 4) }) { gateway, client in
            for index in 1...6 { try await gateway.pipeline.accept(testBatch(index), from: .ingest, durability: .buffered) }
            let live = try await LiveClient.connect(port: try #require(client.port))
            let hello = try await live.frames(1)[0]
            #expect(hello["head_seq"] as? Int == 6)
            #expect(hello["ring"] as? [String: Int] == ["oldest_seq": 5, "newest_seq": 6, "complete_from_ts": Int(testEpoch + 4000)])
            await live.close()
        }
    }

    /// A samples frame's `server_ts` is the publish time in ms: after the test
    /// published it, before the client received it.
    @Test func samplesFramesAreStampedInMillisecondsAtPublish() async throws {
        try await withTestGateway { gateway, client in
            let live = try await LiveClient.connect(port: try #require(client.port))
            var published: [Double] = []
            for index in 1...20 {
                published.append(Self.milliseconds())
                try await gateway.pipeline.accept(testBatch(index), from: .ingest, durability: .buffered)
            }
            let frames = try await live.frames(21)
            let received = await live.receivedAt
            for (index, frame) in frames.enumerated().dropFirst() {
                let serverTime = try #require(frame["server_ts"] as? Double)
                #expect(serverTime >= published[index - 1] - 1 && serverTime <= received[index] + 1,
                        "frame \(index): server_ts \(serverTime), published at \(published[index - 1]), received at \(received[index])")
            }
            await live.close()
        }
    }

    // MARK: Logs

    /// The counts in "store closed" are the commits and rows this test made.
    /// (No log line writes a duration: the request log has method, target and status.)
    @Test func theStoreClosedLogCountsWhatWasWritten() async throws {
        let records = LogRecords()
        var logger = Logger(label: "pulsegate.test") { _ in RecordingLogHandler(records: records) }
        logger.logLevel = .info
        let directory = NSTemporaryDirectory() + "pulsegate-log-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gateway = try await buildApplication(liveTestConfiguration(directory: directory), logger: logger)
        try await gateway.application.test(.live) { client in
            let now = Timestamp.now()
            for push in 0..<3 {
                let body = #"{"samples":["# + (0..<(push + 2)).map { #"{"metric":"logged","labels":{"i":"\#($0)"},"ts":\#(now + Int64(push)),"value":1}"# }.joined(separator: ",") + "]}"
                let (status, _) = try await self.push(client, body)
                #expect(status == 200)
            }
        }
        let closed = try #require(records.all.last { $0.message == "store closed" })
        #expect(closed.metadata["rows"] == "9", "2 + 3 + 4 samples: \(closed.metadata)")
        #expect(closed.metadata["commits"] == "3", "one commit per acknowledged push: \(closed.metadata)")
    }
}

/// What a logger was told, for tests that read the log.
final class LogRecords: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])
    var all: [Record] { records.withLock { $0 } }
    func append(_ record: Record) { records.withLock { $0.append(record) } }
}

struct RecordingLogHandler: LogHandler {
    let records: LogRecords
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let merged = self.metadata.merging(metadata ?? [:]) { $1 }
        records.append(.init(level: level, message: message.description, metadata: merged.mapValues { "\($0)" }))
    }
}
