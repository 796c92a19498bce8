import Logging
import PulseCore
import PulseStore
import Testing

@Suite struct StoreQueryTests {
    // One sample per second, ts 0 s … 9 s, values chosen so every aggregate differs.
    static let values: [Double] = [5, 1, 9, 2, 8, 3, 7, 4, 6, 0]
    let key = SeriesKey(metric: "q", labels: ["host": "a"])

    func openStore(_ db: borrowing TemporaryDatabase) async throws -> SampleStore {
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let samples = Self.values.enumerated().map { Sample(key: key, timestamp: Int64($0.offset) * 1000, value: $0.element) }
        try await store.write(samples, durability: .committed)
        return store
    }

    func points(_ store: SampleStore, from: Int64 = 0, to: Int64 = 9_999, step: Int64, _ aggregation: Aggregation) async throws -> [Point] {
        try await store.downsample(SeriesSelector(metric: "q"), from: from, to: to, step: step, aggregation: aggregation).first?.points ?? []
    }

    @Test func rawRangeIsInclusiveAndAscending() async throws {
        let db = try TemporaryDatabase()
        let store = try await openStore(db)
        let result = try await store.range(SeriesSelector(metric: "q"), from: 2000, to: 4000)
        #expect(result.first?.points == [Point(2000, 9), Point(3000, 2), Point(4000, 8)])
        #expect(try await store.range(SeriesSelector(metric: "q"), from: 10_000, to: 20_000).first?.points == [])
        await store.close()
    }

    // Buckets of 3 s: [0,3000) = 5,1,9; [3000,6000) = 2,8,3; [6000,9000) = 7,4,6; [9000,…) = 0.
    @Test(arguments: [
        (Aggregation.avg, [5.0, 13.0 / 3, 17.0 / 3, 0]),
        (.min, [1, 2, 4, 0]),
        (.max, [9, 8, 7, 0]),
        (.sum, [15, 13, 17, 0]),
        (.last, [9, 3, 6, 0]),
        (.count, [3, 3, 3, 1]),
    ] as [(Aggregation, [Double])])
    func downsamplesByHand(_ aggregation: Aggregation, _ expected: [Double]) async throws {
        let db = try TemporaryDatabase()
        let store = try await openStore(db)
        let result = try await points(store, step: 3000, aggregation)
        #expect(result.map(\.timestamp) == [0, 3000, 6000, 9000])
        for (got, want) in zip(result.map(\.value), expected) {
            #expect(abs(got - want) < 1e-9, "\(aggregation): \(result.map(\.value)) vs \(expected)")
        }
        await store.close()
    }

    @Test func bucketsAlignToMultiplesOfTheStepWhateverTheRange() async throws {
        let db = try TemporaryDatabase()
        let store = try await openStore(db)
        // From 1.5 s: the first bucket still starts at 0 and holds only 2 s (value 9).
        let shifted = try await points(store, from: 1500, step: 3000, .sum)
        #expect(shifted == [Point(0, 9), Point(3000, 13), Point(6000, 17), Point(9000, 0)])
        // Moving the window inside the first bucket keeps every bucket's time.
        for from in stride(from: Int64(0), through: 2000, by: 250) {
            let result = try await points(store, from: from, step: 3000, .count)
            #expect(result.map(\.timestamp) == [0, 3000, 6000, 9000])
        }
        await store.close()
    }

    @Test func aStepOfOneSampleReturnsTheRawPoints() async throws {
        let db = try TemporaryDatabase()
        let store = try await openStore(db)
        let result = try await points(store, step: 1000, .avg)
        #expect(result.map(\.value) == Self.values)
        await store.close()
    }

    @Test func selectsSeriesByLabelMatchers() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let keys = [
            SeriesKey(metric: "cpu", labels: ["core": "0", "host": "a"]),
            SeriesKey(metric: "cpu", labels: ["core": "1", "host": "a"]),
            SeriesKey(metric: "cpu", labels: ["core": "0", "host": "b"]),
            SeriesKey(metric: "cpu"),
            SeriesKey(metric: "mem", labels: ["host": "a"]),
        ]
        try await store.write(keys.map { Sample(key: $0, timestamp: 1000, value: 1) }, durability: .committed)

        #expect(try await store.series(matching: SeriesSelector(metric: "cpu")).count == 4)
        #expect(try await store.series(matching: SeriesSelector(metric: "cpu", matchers: [.equal("host", "a")])) == [keys[0], keys[1]])
        #expect(try await store.series(matching: SeriesSelector(metric: "cpu", matchers: [.equal("host", "a"), .equal("core", "0")])) == [keys[0]])
        #expect(try await store.series(matching: SeriesSelector(metric: "cpu", matchers: [LabelMatcher("host", .notEqual, "a")])) == [keys[3], keys[2]].sorted())
        // As in PromQL, an absent label equals "".
        #expect(try await store.series(matching: SeriesSelector(metric: "cpu", matchers: [.equal("host", "")])) == [keys[3]])
        #expect(try await store.series(matching: SeriesSelector(metric: "nothing")) == [])
        await store.close()
    }
}
