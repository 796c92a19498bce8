import Logging
import PulseCore
import PulseStore
import Testing

@Suite struct RetentionTests {
    @Test func deletesOnlyWhatIsOlderThanTheRetentionInChunks() async throws {
        let db = try TemporaryDatabase()
        let day: Int64 = 86_400_000
        let now: Int64 = 1_700_000_000_000
        let store = try SampleStore.open(db.configuration(retention: .seconds(7 * 86_400), retentionChunk: 3), logger: .quiet)
        let keys = (0..<3).map { SeriesKey(metric: "r", labels: ["s": "\($0)"]) }
        var samples: [Sample] = []
        for key in keys {
            // Ten samples from 10 days ago, an hour apart; five recent ones.
            for hour in 0..<10 { samples.append(Sample(key: key, timestamp: now - 10 * day + Int64(hour) * 3_600_000, value: 1)) }
            for minute in 0..<5 { samples.append(Sample(key: key, timestamp: now - Int64(minute) * 60_000, value: 2)) }
        }
        // One sample exactly at the cutoff is kept.
        samples.append(Sample(key: keys[0], timestamp: now - 7 * day, value: 3))
        try await store.write(samples, durability: .committed)

        let deleted = try await store.enforceRetention(now: now)
        #expect(deleted == 30)
        #expect(store.statistics.retentionRowsDeleted == 30)
        let left = try await store.range(SeriesSelector(metric: "r"), from: 0, to: now)
        #expect(left.map { $0.points.count } == [6, 5, 5])
        #expect(left.allSatisfy { $0.points.allSatisfy { $0.timestamp >= now - 7 * day } })
        #expect(try await store.enforceRetention(now: now) == 0, "a second run finds nothing")
        await store.close()
    }

    @Test func writesKeepFlowingWhileRetentionRuns() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(retentionChunk: 100), logger: .quiet)
        let old = SeriesKey(metric: "old")
        try await store.write((0..<5_000).map { Sample(key: old, timestamp: Int64($0), value: 0) }, durability: .committed)
        async let deleted = store.enforceRetention(now: Timestamp.now())
        let fresh = SeriesKey(metric: "fresh")
        for index in 0..<20 {
            try await store.write([Sample(key: fresh, timestamp: Timestamp.now() + Int64(index), value: 1)], durability: .committed)
        }
        #expect(try await deleted == 5_000)
        #expect(try await store.range(SeriesSelector(metric: "fresh"), from: 0, to: Timestamp.latest).first?.points.count == 20)
        await store.close()
    }
}
