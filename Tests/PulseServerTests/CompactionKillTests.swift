import Foundation
import PulseCore
@testable import PulseStore
import PulseTestSupport
import Synchronization
import Testing

/// SIGKILL while the writer moves rows into chunks: while it compacts under
/// pushes and overwrites, and while it moves the rows of a schema-2 file.
/// Each time the file is sound and every acknowledged sample is there once,
/// with its last acknowledged value.
@Suite(.serialized) struct CompactionKillTests {
    typealias Gateway = ExecutableTests.RunningGateway

    /// The value of a counter or gauge line of `/metrics`.
    static func metric(_ gateway: Gateway, _ name: String) async -> Double {
        guard let (status, text) = try? await gateway.request(.GET, "/metrics"), status == 200 else { return 0 }
        let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
        return line.flatMap { Double($0.split(separator: " ")[1]) } ?? 0
    }

    /// What the pushers sent for each (series, ts): the last value acknowledged,
    /// and the value of the one request each had not had an answer to (keyed
    /// by series, which are each pusher's own).
    final class Ledger: Sendable {
        let acknowledged = Mutex<[String: [Int64: Double]]>([:])
        let inFlight = Mutex<[String: [Int64: Double]]>([:])
        let stop = Atomic<Bool>(false)
    }

    @Test func aKillDuringCompactionUnderLoadLosesAndDuplicatesNothing() async throws {
        let gateway = try Gateway(arguments: ["--db", "data/compact.sqlite", "--collect-interval", "0", "--batch-age", "250ms"])
        try await gateway.start()
        // Two days ago: older than the head's span, so rows move into chunks as soon as a series has enough.
        let start = (Timestamp.now() - 2 * 86_400_000) / 1_000 * 1_000
        let ledger = Ledger()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pusher in 0..<2 {
                group.addTask {
                    var request = 0
                    while !ledger.stop.load(ordering: .relaxed) {
                        // Four series of the pusher, 250 s each a request; every third
                        // request overwrites the one two before it with new values.
                        let overwrite = request % 3 == 2
                        let slot = overwrite ? request - 2 : request
                        let value = overwrite ? 0.5 : 0
                        var samples: [String: [Int64: Double]] = [:]
                        var json: [String] = []
                        for series in 0..<4 {
                            let name = "p\(pusher)s\(series)"
                            for second in 0..<250 {
                                let ts = start + Int64(slot * 250 + second) * 1_000
                                let v = Double(slot * 250 + second) + value + Double(request) * 1e-3
                                samples[name, default: [:]][ts] = v
                                json.append(#"{"metric":"compacted","labels":{"s":"\#(name)"},"ts":\#(ts),"value":\#(v)}"#)
                            }
                        }
                        // This pusher's series only: the other pusher's request in flight stays recorded.
                        ledger.inFlight.withLock { $0.merge(samples) { _, new in new } }
                        let body = #"{"samples":["# + json.joined(separator: ",") + "]}"
                        guard let (status, _) = try? await gateway.request(.POST, "/ingest", contentType: "application/json", body: body) else { return }
                        if status == 200 {
                            ledger.acknowledged.withLock { acked in
                                for (name, values) in samples { acked[name, default: [:]].merge(values) { _, new in new } }
                            }
                        }
                        request += 1
                    }
                }
            }
            // Under way: chunks written, and overwrites of them acknowledged.
            let compacting = await eventually(timeout: .seconds(120)) {
                await Self.metric(gateway, "pulsegate_store_compactions_total") >= 4
            }
            #expect(compacting, "no compaction under the pushes")
            try await Task.sleep(for: .milliseconds(300))
            #expect(await gateway.stop(SIGKILL) == SIGKILL)
            ledger.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }

        let path = gateway.directory + "/data/compact.sqlite"
        let raw = try SQLiteConnection(path: path, readOnly: true)
        #expect(try raw.scalarInt("SELECT count(*) FROM chunks") ?? 0 > 0, "the kill came before any chunk")
        let store = try SampleStore.open(StoreConfiguration(path: path))
        #expect(try await store.checkIntegrity() == ["ok"])
        let acked = ledger.acknowledged.withLock { $0 }
        let inFlight = ledger.inFlight.withLock { $0 }
        var checked = 0
        for (name, values) in acked {
            let points = try await store.range(SeriesSelector(metric: "compacted", matchers: [.equal("s", name)]), from: 0, to: Timestamp.latest)
                .flatMap(\.points)
            #expect(zip(points, points.dropFirst()).allSatisfy { $0.timestamp < $1.timestamp }, "\(name): a ts twice, or out of order")
            let stored = Dictionary(points.map { ($0.timestamp, $0.value) }, uniquingKeysWith: { first, _ in first })
            for (ts, value) in values {
                let answer = stored[ts]
                // The unanswered request may have been committed before the kill.
                let pending = inFlight[name]?[ts]
                #expect(answer == value || (pending != nil && answer == pending), "\(name) at \(ts): \(String(describing: answer)), acknowledged \(value)")
                checked += 1
            }
            let sent = Set(values.keys).union(inFlight[name].map { Array($0.keys) } ?? [])
            #expect(stored.keys.allSatisfy(sent.contains), "\(name): samples never sent")
        }
        #expect(checked >= 8_000, "\(checked) acknowledged samples checked")
        await store.close()
    }

    /// A file of schema 2 (rows only) opens at once and its rows move into
    /// chunks in the background; killed halfway, nothing is lost or doubled,
    /// and the next start finishes the move.
    @Test func aKillDuringTheMoveOfSchema2RowsLosesNothing() async throws {
        let directory = NSTemporaryDirectory() + "pulsegate-legacy-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/legacy.sqlite"
        let series = 20
        let rows = 40_000
        let start = (Timestamp.now() - 3 * 86_400_000) / 60_000 * 60_000
        func value(_ series: Int, _ index: Int) -> Double { Double(series * 1_000_000 + index) * 0.25 }
        do {
            // Schema 2 as released: series, samples, rollups_1m.
            let legacy = try SQLiteConnection(path: path, readOnly: false)
            try legacy.execute("""
                PRAGMA journal_mode = WAL;
                CREATE TABLE series(id INTEGER PRIMARY KEY, metric TEXT NOT NULL, labels TEXT NOT NULL, UNIQUE(metric, labels));
                CREATE TABLE samples(series_id INTEGER NOT NULL, ts INTEGER NOT NULL, value REAL NOT NULL, PRIMARY KEY(series_id, ts)) WITHOUT ROWID;
                CREATE TABLE rollups_1m(series_id INTEGER NOT NULL, bucket INTEGER NOT NULL, count INTEGER NOT NULL, sum REAL NOT NULL,
                    min REAL NOT NULL, max REAL NOT NULL, last REAL NOT NULL, last_ts INTEGER NOT NULL, PRIMARY KEY(series_id, bucket)) WITHOUT ROWID;
                PRAGMA user_version = 2;
                BEGIN;
                """)
            let insert = try legacy.prepare("INSERT INTO samples VALUES (?1, ?2, ?3)")
            for id in 1...series {
                try legacy.execute(#"INSERT INTO series VALUES (\#(id), 'legacy', '{"s":"\#(id)"}')"#)
                for index in 0..<rows {
                    insert.bind(Int64(id), at: 1)
                    insert.bind(start + Int64(index) * 1_000, at: 2)
                    insert.bind(value(id, index), at: 3)
                    try insert.run()
                }
            }
            try legacy.execute("COMMIT; PRAGMA wal_checkpoint(TRUNCATE)")
        }

        let gateway = try Gateway(arguments: ["--db", path, "--collect-interval", "0"])
        try await gateway.start()
        // It answers at once, from rows and chunks both, while it moves them.
        let (status, _) = try await gateway.request(.GET, "/history?metric=legacy&s=3&from=\(start)&to=\(start + 999)")
        #expect(status == 200)
        let moving = await eventually(timeout: .seconds(60)) { await Self.metric(gateway, "pulsegate_store_compacted_rows_total") > 0 }
        #expect(moving, "no rows moved")
        #expect(await gateway.stop(SIGKILL) == SIGKILL)

        let raw = try SQLiteConnection(path: path, readOnly: true)
        let left = try raw.scalarInt("SELECT count(*) FROM samples") ?? 0
        let chunked = try raw.scalarInt("SELECT coalesce(sum(count), 0) FROM chunks") ?? 0
        #expect(left > 0 && chunked > 0, "the kill came halfway: \(left) rows left, \(chunked) samples in chunks")
        #expect(left + chunked == Int64(series * rows), "\(left) rows and \(chunked) chunked samples of \(series * rows)")

        let store = try SampleStore.open(StoreConfiguration(path: path))
        #expect(try await store.checkIntegrity() == ["ok"])
        for id in 1...series {
            let points = try await store.range(SeriesSelector(metric: "legacy", matchers: [.equal("s", "\(id)")]), from: 0, to: Timestamp.latest)
                .flatMap(\.points)
            #expect(points.count == rows, "series \(id): \(points.count) of \(rows)")
            #expect(points.enumerated().allSatisfy { $0.element == Point(start + Int64($0.offset) * 1_000, value(id, $0.offset)) }, "series \(id)")
        }
        // The next start finishes the move.
        await store.compactAll()
        #expect(try raw.scalarInt("SELECT count(*) FROM samples") == 0)
        await store.close()
    }
}
