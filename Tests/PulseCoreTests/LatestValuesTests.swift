import PulseCore
import Synchronization
import Testing

/// The latest-value exposition on its own: text format, order, staleness.
@Suite struct LatestValuesTests {
    /// A clock the test moves by hand (ms).
    final class ManualClock: Sendable {
        let now = Atomic<Int64>(1_000_000)
        func advance(_ milliseconds: Int64) { now.add(milliseconds, ordering: .relaxed) }
    }

    func text(_ latest: LatestValues) -> (String, Int) {
        var buffer: [UInt8] = []
        let count = latest.emit(into: &buffer)
        return (String(decoding: buffer, as: UTF8.self), count)
    }

    @Test func familiesAreSortedWithHelpAndTypeAndLabelsEscaped() {
        let latest = LatestValues(staleness: .seconds(60))
        latest.publish([
            Sample(metric: "zeta", timestamp: 1, value: 2),
            Sample(metric: "alpha", labels: ["v": #"a\b"c"# + "\nd"], timestamp: 1, value: 0.25),
            Sample(metric: "alpha", labels: ["v": "plain", "w": "ü"], timestamp: 1, value: -1e-9),
        ], from: .ingest)
        let (text, count) = text(latest)
        #expect(count == 3)
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[0] == "# HELP alpha Latest value received by Pulsegate (collector or push).")
        #expect(lines[1] == "# TYPE alpha untyped")
        #expect(Set(lines[2...3]) == [#"alpha{v="a\\b\"c\nd"} 0.25"#, #"alpha{v="plain",w="ü"} -1e-09"#])
        #expect(lines[4...] == ["# HELP zeta Latest value received by Pulsegate (collector or push).", "# TYPE zeta untyped", "zeta 2.0"])
    }

    @Test func theNewestSampleWinsByItsOwnTimestamp() {
        let latest = LatestValues(staleness: .seconds(60))
        latest.publish([Sample(metric: "m", timestamp: 2_000, value: 2)], from: .ingest)
        latest.publish([Sample(metric: "m", timestamp: 1_000, value: 1)], from: .ingest)  // late: ignored
        #expect(text(latest).0.hasSuffix("m 2.0\n"))
        latest.publish([Sample(metric: "m", timestamp: 3_000, value: 3)], from: .collector)
        #expect(text(latest).0.hasSuffix("m 3.0\n"))
    }

    @Test func aSeriesNotUpdatedForTheStalenessDropsOut() {
        let clock = ManualClock()
        let latest = LatestValues(staleness: .seconds(10)) { clock.now.load(ordering: .relaxed) }
        latest.publish([Sample(metric: "old", timestamp: 1, value: 1), Sample(metric: "kept", timestamp: 1, value: 1)], from: .ingest)
        clock.advance(9_000)
        latest.publish([Sample(metric: "kept", timestamp: 2, value: 2)], from: .ingest)
        #expect(text(latest).1 == 2)
        clock.advance(2_000)  // old: 11 s without news
        let (text, count) = text(latest)
        #expect(count == 1 && !text.contains("old") && text.contains("kept 2.0"))
        // A late sample still counts as news of a live series.
        clock.advance(9_500)
        latest.publish([Sample(metric: "kept", timestamp: 1, value: 9)], from: .ingest)
        clock.advance(1_000)
        #expect(self.text(latest).0.contains("kept 2.0"))
    }

    @Test func specialValuesAreWrittenAsPrometheusDoes() {
        let latest = LatestValues(staleness: .seconds(60))
        latest.publish([
            Sample(metric: "a", timestamp: 1, value: .infinity), Sample(metric: "b", timestamp: 1, value: -.infinity),
            Sample(metric: "c", timestamp: 1, value: .nan), Sample(metric: "d", timestamp: 1, value: 1e21),
        ], from: .collector)
        let text = text(latest).0
        #expect(text.contains("a +Inf\n") && text.contains("b -Inf\n") && text.contains("c NaN\n") && text.contains("d 1e+21\n"))
    }
}
