import PulseCore
import Testing

@Suite struct MinuteRollupTests {
    @Test func foldingSamplesGivesTheirAggregates() throws {
        let samples: [(Int64, Double)] = [(1_000, 3), (2_000, -0.0), (2_500, 7.5), (59_999, -2)]
        let rollup = try #require(MinuteRollup(folding: samples))
        #expect(rollup == MinuteRollup(count: 4, sum: 8.5, min: -2, max: 7.5, last: -2, lastTimestamp: 59_999))
        // The same bits as adding them one by one: a plain running sum, in ts order.
        var byHand = MinuteRollup(timestamp: 1_000, value: 0.1)
        byHand.add(timestamp: 2_000, value: 0.2)
        byHand.add(timestamp: 3_000, value: 0.3)
        let folded = try #require(MinuteRollup(folding: [(1_000, 0.1), (2_000, 0.2), (3_000, 0.3)]))
        #expect(folded.sum.bitPattern == byHand.sum.bitPattern)
        #expect(folded.sum.bitPattern == ((0.1 + 0.2) + 0.3).bitPattern)
    }

    @Test func foldingNothingGivesNoRollup() {
        #expect(MinuteRollup(folding: [(Int64, Double)]()) == nil)
    }
}
