import Foundation
import PulseCore
import PulseTestSupport
@testable import PulseStore
import Testing

/// The chunk layer through the store: damaged bytes, whole chunks, the queue's rules.
@Suite struct ChunkStoreTests {
    let key = SeriesKey(metric: "chunked", labels: ["host": "a"])

    /// A chunk damaged outside SQLite's checks (its checksum no longer
    /// matches) fails the reads of its range with an error that names it,
    /// rather than answering wrong numbers; reads beside it still work.
    @Test func aDamagedChunkIsAnErrorNotWrongNumbers() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(chunkPolicy: .standard), logger: .quiet)
        let samples = (0..<600).map { Sample(key: key, timestamp: 1_000_000 + Int64($0) * 1_000, value: Double($0) * 0.5) }
        try await store.write(samples, durability: .committed)
        await store.compactAll()
        let damage = try SQLiteConnection(path: db.path, readOnly: false)
        let first = try #require(try damage.scalarInt("SELECT min(first_ts) FROM chunks"))
        try damage.execute("UPDATE chunks SET data = CAST(substr(data, 1, 3) || x'ff' || substr(data, 5) AS BLOB) WHERE first_ts = \(first)")
        await #expect(throws: CorruptChunkError.self) {
            _ = try await store.range(SeriesSelector(metric: "chunked"), from: 0, to: Timestamp.latest, limit: nil)
        }
        do {
            _ = try await store.range(SeriesSelector(metric: "chunked"), from: 0, to: Timestamp.latest, limit: nil)
        } catch let error as CorruptChunkError {
            #expect(error.firstTimestamp == first)
            #expect("\(error)".contains("checksum"), "\(error)")
        }
        // A range the damaged chunk does not hold reads as before.
        let last = try #require(try damage.scalarInt("SELECT max(first_ts) FROM chunks"))
        if last != first {
            let tail = try await store.range(SeriesSelector(metric: "chunked"), from: last, to: Timestamp.latest, limit: nil)
            #expect(tail.first?.points.last == Point(1_000_000 + 599 * 1_000, 599 * 0.5))
        }
        await store.close()
    }

    /// A compaction step that fails (here a trigger refuses its chunks, as a
    /// full disk would) rolls back whole, every series of it: the rows stay in
    /// the head, reads answer them, the failure is counted, and a later step
    /// moves them once it can.
    @Test func aFailedCompactionStepLosesNothingAndIsTriedAgain() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let saboteur = try SQLiteConnection(path: db.path, readOnly: false)
        try saboteur.execute("CREATE TRIGGER refuse_chunks BEFORE INSERT ON chunks BEGIN SELECT RAISE(ABORT, 'seeded compaction failure'); END")
        // More series than one step takes, so that a failed step holds several.
        let written = try await Self.writeTwelveSeries(to: store)
        #expect(await eventually { store.statistics.compactionErrors > 0 })
        let reader = try SQLiteConnection(path: db.path, readOnly: true)
        #expect(try reader.scalarInt("SELECT count(*) FROM chunks") == 0)
        #expect(try reader.scalarInt("SELECT count(*) FROM head") == 12 * 40)
        #expect(try await Self.stored(store) == written)

        try saboteur.execute("DROP TRIGGER refuse_chunks")
        let errors = store.statistics.compactionErrors
        await store.compactAll()
        #expect(try reader.scalarInt("SELECT count(*) FROM head") == 0)
        #expect(try reader.scalarInt("SELECT sum(count) FROM chunks") == 12 * 40)
        #expect(try await Self.stored(store) == written)
        #expect(store.statistics.compactionErrors == errors)
        #expect(try await store.checkIntegrity() == ["ok"])
        await store.close()
    }

    /// Steps of several series are one transaction: when one series of a step
    /// fails, the others of that step keep their rows in the head, whole, and
    /// the steps before it stay done.
    @Test func aFailedStepRollsBackEverySeriesInIt() async throws {
        let db = try TemporaryDatabase()
        // No compaction while writing (a series is queued at 1,000 rows or after an hour);
        // compactAll then moves each series whole in one step, eight tasks a step.
        let policy = ChunkPolicy(maxChunkSamples: 16, rowsPerCompaction: 1_000, headSpan: 0, maxHeadWait: .seconds(3600))
        let store = try SampleStore.open(db.configuration(chunkPolicy: policy), logger: .quiet)
        let written = try await Self.writeTwelveSeries(to: store)
        let reader = try SQLiteConnection(path: db.path, readOnly: true)
        #expect(try reader.scalarInt("SELECT count(*) FROM head") == 12 * 40)
        // The last series' chunks are refused: its step is the last one, behind three others.
        let refused = try #require(try reader.scalarInt("SELECT max(id) FROM series"))
        let saboteur = try SQLiteConnection(path: db.path, readOnly: false)
        try saboteur.execute("CREATE TRIGGER refuse_one BEFORE INSERT ON chunks WHEN NEW.series_id = \(refused) BEGIN SELECT RAISE(ABORT, 'seeded compaction failure'); END")
        await store.compactAll()
        #expect(store.statistics.compactionErrors == 1)
        let headRows = try Self.headRowsBySeries(reader)
        #expect(headRows[refused] == 40)
        #expect(headRows.values.allSatisfy { $0 == 40 }, "a series is in the head whole or not at all: \(headRows)")
        #expect(headRows.count > 1, "the series of the failed step before the refused one stayed too: \(headRows)")
        #expect(headRows.count < 12, "the steps before it moved their series: \(headRows)")
        #expect(try reader.scalarInt("SELECT coalesce(sum(count), 0) FROM chunks") == Int64(12 - headRows.count) * 40)
        #expect(try await Self.stored(store) == written)

        try saboteur.execute("DROP TRIGGER refuse_one")
        await store.compactAll()
        #expect(try reader.scalarInt("SELECT count(*) FROM head") == 0)
        #expect(try reader.scalarInt("SELECT sum(count) FROM chunks") == 12 * 40)
        #expect(try await Self.stored(store) == written)
        #expect(store.statistics.compactionErrors == 1)
        #expect(try await store.checkIntegrity() == ["ok"])
        await store.close()
    }

    /// 12 series of metric `refused`, 40 ticks 1 s apart, a commit a tick; what was written.
    static func writeTwelveSeries(to store: SampleStore) async throws -> [SeriesKey: [Point]] {
        let keys = (0..<12).map { SeriesKey(metric: "refused", labels: ["s": "\($0)"]) }
        var written: [SeriesKey: [Point]] = [:]
        for tick in 0..<40 {
            let samples = keys.enumerated().map { index, key in
                Sample(key: key, timestamp: 1_000_000 + Int64(tick) * 1_000, value: Double(tick * 100 + index) + 0.25)
            }
            for sample in samples { written[sample.key, default: []].append(Point(sample.timestamp, sample.value)) }
            try await store.write(samples, durability: .committed)
        }
        return written
    }

    static func headRowsBySeries(_ connection: SQLiteConnection) throws -> [Int64: Int64] {
        let statement = try connection.prepare("SELECT series_id, count(*) FROM head GROUP BY series_id")
        var rows: [Int64: Int64] = [:]
        while try statement.step() { rows[statement.int64(at: 0)] = statement.int64(at: 1) }
        return rows
    }

    static func stored(_ store: SampleStore) async throws -> [SeriesKey: [Point]] {
        let series = try await store.range(SeriesSelector(metric: "refused"), from: 0, to: Timestamp.latest, limit: nil)
        return Dictionary(uniqueKeysWithValues: series.map { ($0.key, $0.points) })
    }

    /// The compactor writes whole chunks: the newest rows that would make a
    /// short one stay in the head until more come (or they wait too long).
    @Test func onlyWholeChunksMoveWhileRowsKeepComing() async throws {
        let db = try TemporaryDatabase()
        let policy = ChunkPolicy(maxChunkBytes: 1_000, maxChunkSamples: 100, rowsPerCompaction: 250, headSpan: 0, maxHeadWait: .seconds(3600))
        let store = try SampleStore.open(db.configuration(chunkPolicy: policy), logger: .quiet)
        // Whole numbers one apart: 100 samples take far less than 1,000 bytes, so chunks are cut at 100 samples.
        let samples = (0..<260).map { Sample(key: key, timestamp: 1_000_000 + Int64($0) * 1_000, value: Double($0)) }
        try await store.write(samples, durability: .committed)
        let connection = try SQLiteConnection(path: db.path, readOnly: true)
        #expect(await eventually { (try? connection.scalarInt("SELECT count(*) FROM chunks")) == 2 })
        try await Task.sleep(for: .milliseconds(200))
        #expect(try connection.scalarInt("SELECT count(*) FROM chunks") == 2)
        #expect(try connection.scalarInt("SELECT sum(count) FROM chunks") == 200)
        #expect(try connection.scalarInt("SELECT count(*) FROM head") == 60)
        #expect(try await store.range(SeriesSelector(metric: "chunked"), from: 0, to: Timestamp.latest, limit: nil).first?.points.count == 260)
        await store.compactAll()
        #expect(try connection.scalarInt("SELECT count(*) FROM head") == 0)
        #expect(try connection.scalarInt("SELECT sum(count) FROM chunks") == 260)
        await store.close()
    }

    /// The cut that makes chunks: every point once, in order, each chunk within
    /// both bounds and decoding to its points, and full (its bytes at 90 % of the
    /// bound or its samples at the bound) but for the last and a few where the
    /// data's density changes.
    @Test(arguments: [1, 2, 3] as [UInt64])
    func chunksAreCutFullAndWithinBounds(seed: UInt64) throws {
        var random = SplitMix64(seed: seed)
        var points: [Point] = []
        var ts: Int64 = 1_764_460_800_000
        // Stretches of noisy floats, constants, small integers and full-width integers.
        for stretch in 0..<12 {
            let length = 200 + Int(random.next() % 3_000)
            for index in 0..<length {
                ts += 1_000 + Int64(random.next() % 7)
                let value: Double = switch stretch % 4 {
                case 0: Double(random.next() >> 11) / Double(1 << 53)
                case 1: 42
                case 2: Double(index % 9)
                default: Double(Int64(bitPattern: random.next()) >> 12)
                }
                points.append(Point(ts, value))
            }
        }
        let policy = ChunkPolicy.standard
        let cuts = Compaction.cut(points, policy: policy)
        #expect(cuts.map(\.range.lowerBound) == [0] + cuts.dropLast().map(\.range.upperBound))
        #expect(cuts.last?.range.upperBound == points.count)
        for (index, cut) in cuts.enumerated() {
            #expect(cut.bytes.count <= policy.maxChunkBytes && cut.range.count <= policy.maxChunkSamples)
            let decoded = try XORChunk.decode(cut.bytes).map { Point($0.timestamp, $0.value) }
            #expect(decoded == Array(points[cut.range]))
        }
        // A chunk where denser samples meet sparser ones may stay short, one per change at
        // most (11 here); trying 4,096 samples and shrinking in proportion left runs of
        // ten and more short chunks after each change.
        let short = cuts.dropLast().filter { $0.isShort(policy) }
        #expect(short.count <= 11, "\(short.map { "\($0.range): \($0.bytes.count) bytes" })")
    }

    @Test func theQueueTakesASeriesOnceItHasEnoughRowsOrHasWaited() {
        let policy = ChunkPolicy(rowsPerCompaction: 100, maxHeadWait: .seconds(60))
        var queue = CompactionQueue(policy: policy)
        let start = ContinuousClock.now
        queue.wrote(rows: 60, seriesID: 1, at: start)
        queue.wrote(rows: 10, seriesID: 2, at: start)
        #expect(queue.next() == nil)
        queue.wrote(rows: 40, seriesID: 1, at: start)
        let task = CompactionQueue.Task(seriesID: 1, source: .head)
        #expect(queue.next() == task)
        #expect(queue.shouldMove(task, closedRows: 100, now: start))
        #expect(!queue.shouldMove(task, closedRows: 99, now: start))
        #expect(queue.shouldMove(task, closedRows: 99, now: start + .seconds(61)))
        // It found 100 closed rows and moved 80: the other 20 are counted, and more may wait.
        queue.finished(task, closedRows: 100, rowsMoved: 80, headRowsLeft: true, at: start)
        #expect(queue.next() == task)
        #expect(queue.next() == nil)
        // The next step moves the rest: nothing of series 1 is left to wait.
        queue.finished(task, closedRows: 20, rowsMoved: 20, headRowsLeft: false, at: start)
        // Series 2 has waited: a sweep a minute on queues it; then it moves what it has.
        queue.sweep(now: start + .seconds(61))
        #expect(queue.next() == CompactionQueue.Task(seriesID: 2, source: .head))
        #expect(queue.next() == nil)
        #expect(queue.isOverdue(CompactionQueue.Task(seriesID: 2, source: .head), now: start + .seconds(61)))
    }

    /// An overdue step that moved some rows starts the wait of those it left
    /// again (they wait for the rows that fill their chunk); a step that was
    /// not overdue leaves their wait as it was.
    @Test func anOverdueStepThatLeftATailStartsItsWaitAgain() {
        let policy = ChunkPolicy(rowsPerCompaction: 100, maxHeadWait: .seconds(60))
        var queue = CompactionQueue(policy: policy)
        let start = ContinuousClock.now
        let fast = CompactionQueue.Task(seriesID: 1, source: .head)
        let early = CompactionQueue.Task(seriesID: 2, source: .head)
        queue.wrote(rows: 50, seriesID: 1, at: start)
        queue.wrote(rows: 150, seriesID: 2, at: start)
        // Series 2 is compacted early, for its rows: the 30 it leaves keep their wait.
        queue.finished(early, closedRows: 150, rowsMoved: 120, headRowsLeft: true, at: start + .seconds(10))
        #expect(queue.isOverdue(early, now: start + .seconds(61)))
        // Series 1 is overdue; the step moves 30 rows and leaves 20: they wait a whole minute again.
        #expect(queue.isOverdue(fast, now: start + .seconds(61)))
        queue.finished(fast, closedRows: 50, rowsMoved: 30, headRowsLeft: true, at: start + .seconds(61))
        #expect(!queue.isOverdue(fast, now: start + .seconds(62)))
        #expect(queue.isOverdue(fast, now: start + .seconds(121)))
        // Overdue again and nothing moved (the rows alone fill no chunk, so they would have moved):
        // their wait is not started again.
        queue.finished(fast, closedRows: 20, rowsMoved: 0, headRowsLeft: true, at: start + .seconds(121))
        #expect(queue.isOverdue(fast, now: start + .seconds(122)))
    }

    /// Which rows of a step wait in the head (`Compaction.Tail`), on a real
    /// file: overdue rows that make whole chunks leave the short tail behind
    /// them; overdue rows that make no whole chunk move all the same; rows not
    /// overdue that make no whole chunk wait.
    @Test func anOverdueStepLeavesItsShortTailOnlyBehindAWholeChunk() throws {
        let db = try TemporaryDatabase()
        let connection = try SQLiteConnection(path: db.path, readOnly: false)
        try Schema.migrate(connection)
        var random = SplitMix64(seed: 5)
        // Noisy floats: about 7.5 bytes each, so 300 make two whole 1,000-byte chunks and a short one.
        func rows(seriesID: Int64, count: Int) throws -> [Point] {
            let insert = try connection.prepare(HeadTable.insertSQL)
            let points = (0..<count).map { Point(1_000_000 + Int64($0) * 1_000, Double(random.next() >> 11) / Double(1 << 53)) }
            for point in points {
                insert.bind(HeadTable.bucket(of: point.timestamp), at: 1)
                insert.bind(seriesID, at: 2)
                insert.bind(point.timestamp, at: 3)
                insert.bind(point.value, at: 4)
                try insert.run()
            }
            return points
        }
        func move(_ points: [Point], seriesID: Int64, tail: Compaction.Tail) throws -> Int {
            try connection.execute("BEGIN IMMEDIATE")
            let moved = try Compaction.move(points, from: .head, seriesID: seriesID, tail: tail, policy: .standard, on: connection).rows
            try connection.execute("COMMIT")
            return moved
        }
        func chunkSizes(_ seriesID: Int64) throws -> [Int64] {
            let statement = try connection.prepare("SELECT length(data) FROM chunks WHERE series_id = \(seriesID) ORDER BY last_ts")
            var sizes: [Int64] = []
            while try statement.step() { sizes.append(statement.int64(at: 0)) }
            return sizes
        }

        let busy = try rows(seriesID: 1, count: 300)
        let moved = try move(busy, seriesID: 1, tail: .waitsUnlessAlone)
        #expect(moved > 200 && moved < 300)
        let busyChunks = try chunkSizes(1)
        #expect(busyChunks.count == 2 && busyChunks.allSatisfy { $0 >= 900 }, "\(busyChunks)")
        #expect(try HeadTable.rows(seriesID: 1, from: .min, to: .max, limit: 1_000, on: connection) == Array(busy[moved...]))

        let slow = try rows(seriesID: 2, count: 60)
        #expect(try move(slow, seriesID: 2, tail: .waits) == 0)
        #expect(try move(slow, seriesID: 2, tail: .waitsUnlessAlone) == 60)
        #expect(try chunkSizes(2).count == 1)
        #expect(try HeadTable.rows(seriesID: 2, from: .min, to: .max, limit: 1_000, on: connection).isEmpty)
    }

    /// Schema 4 keys the head by time bucket first. A schema-3 file's head rows
    /// (not yet in chunks) come through the migration as they were: every ts,
    /// every value bit for bit (-0 included), each in the bucket of its ts.
    @Test func aSchema3HeadIsKeptWhenItsKeyChanges() async throws {
        let db = try TemporaryDatabase()
        let old = try SQLiteConnection(path: db.path, readOnly: false)
        for migration in Schema.migrations.prefix(3) {
            try old.execute(migration.sql)
            try migration.backfill?(old)
        }
        try old.execute("PRAGMA user_version = 3")
        try old.execute("INSERT INTO series(id, metric, labels) VALUES (7, 'chunked', '\(LabelJSON.encode(key.labels))')")
        // Irregular steps across many 16.384 s buckets, and values SQLite could change: -0, whole numbers.
        var written: [Point] = []
        var ts: Int64 = 1_700_000_000_000
        for index in 0..<500 {
            let value: Double = index % 7 == 0 ? -0.0 : index % 3 == 0 ? Double(index) : Double(index) * 0.37
            written.append(Point(ts, value))
            ts += 1 + Int64(index * 37 % 4_000)
        }
        let insert = try old.prepare("INSERT INTO head(series_id, ts, value) VALUES (7, ?1, ?2)")
        for point in written {
            insert.bind(point.timestamp, at: 1)
            insert.bind(point.value, at: 2)
            try insert.run()
        }

        // The writer looks at an earlier run's head rows as it starts, and would move the
        // whole chunks they make while this test reads the head: with chunks of up to
        // 100 KB, the 500 rows make none, and stay until `compactAll`.
        let roomy = ChunkPolicy(maxChunkBytes: 100_000, maxChunkSamples: 4_096, rowsPerCompaction: 4_096, maxHeadWait: .seconds(3600))
        let store = try SampleStore.open(db.configuration(chunkPolicy: roomy), logger: .quiet)
        let check = try SQLiteConnection(path: db.path, readOnly: true)
        #expect(try check.scalarInt("PRAGMA user_version") == Int64(Schema.currentVersion))
        #expect(try check.scalarInt("SELECT count(*) FROM head WHERE bucket = ts >> \(HeadTable.bucketShift)") == 500)
        #expect(try check.scalarInt("SELECT count(DISTINCT bucket) FROM head") ?? 0 > 50)
        let read = try #require(try await store.range(SeriesSelector(metric: "chunked"), from: 0, to: Timestamp.latest, limit: nil).first)
        #expect(read.points.map(\.timestamp) == written.map(\.timestamp))
        #expect(read.points.map(\.value.bitPattern) == written.map(\.value.bitPattern))
        // And the same once they are in chunks.
        await store.compactAll()
        #expect(try check.scalarInt("SELECT count(*) FROM head") == 0)
        let compacted = try #require(try await store.range(SeriesSelector(metric: "chunked"), from: 0, to: Timestamp.latest, limit: nil).first)
        #expect(compacted.points.map(\.value.bitPattern) == written.map(\.value.bitPattern))
        await store.close()
    }

}
