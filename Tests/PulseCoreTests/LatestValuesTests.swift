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

    @Test func anEndedSeriesLeavesUnlessANewerSampleCame() {
        let latest = LatestValues(staleness: .seconds(60))
        let gone = SeriesKey(metric: "up", labels: ["job": "gone"])
        let back = SeriesKey(metric: "up", labels: ["job": "back"])
        latest.publish([Sample(key: gone, timestamp: 1_000, value: 1), Sample(key: back, timestamp: 3_000, value: 1)], from: .remoteWrite)
        latest.end([SeriesEnd(key: gone, timestamp: 2_000), SeriesEnd(key: back, timestamp: 2_000), SeriesEnd(key: SeriesKey(metric: "never"), timestamp: 1)])
        let (text, count) = text(latest)
        #expect(count == 1)
        #expect(text.contains(#"up{job="back"} 1.0"#) && !text.contains("gone"))
        latest.end([SeriesEnd(key: back, timestamp: 3_000)])
        #expect(self.text(latest) == ("", 0))
    }

    @Test func aDescribedFamilyIsWrittenWithItsTypeAndHelpAndItsSeriesUnderIt() {
        let latest = LatestValues(staleness: .seconds(60))
        latest.describe([
            MetricMetadata(family: "rpc_seconds", type: .histogram, help: #"Latency \ of "rpcs"."# + "\nSecond line."),
            MetricMetadata(family: "requests_total", type: .counter, help: "Requests."),
            MetricMetadata(family: "info_thing", type: .info, help: ""),
        ])
        latest.publish([
            Sample(metric: "rpc_seconds_bucket", labels: ["le": "0.1"], timestamp: 1, value: 3),
            Sample(metric: "rpc_seconds_bucket", labels: ["le": "+Inf"], timestamp: 1, value: 4),
            Sample(metric: "rpc_seconds_sum", timestamp: 1, value: 0.5),
            Sample(metric: "rpc_seconds_count", timestamp: 1, value: 4),
            Sample(metric: "rpc_seconds_total", timestamp: 1, value: 9),  // not a histogram's suffix: its own family
            Sample(metric: "requests_total", timestamp: 1, value: 7),
            Sample(metric: "info_thing", timestamp: 1, value: 1),
        ], from: .remoteWrite)
        let lines = text(latest).0.split(separator: "\n").map(String.init)
        #expect(lines[0...1] == ["# HELP info_thing Latest value received by Pulsegate (collector or push).", "# TYPE info_thing untyped"])
        #expect(lines[3...4] == ["# HELP requests_total Requests.", "# TYPE requests_total counter"])
        #expect(lines[6...7] == [#"# HELP rpc_seconds Latency \\ of "rpcs".\nSecond line."#, "# TYPE rpc_seconds histogram"])
        #expect(Set(lines[8...9]) == [#"rpc_seconds_bucket{le="+Inf"} 4.0"#, #"rpc_seconds_bucket{le="0.1"} 3.0"#])
        #expect(lines[10...11] == ["rpc_seconds_count 4.0", "rpc_seconds_sum 0.5"])
        #expect(lines[12...] == ["# HELP rpc_seconds_total Latest value received by Pulsegate (collector or push).", "# TYPE rpc_seconds_total untyped", "rpc_seconds_total 9.0"])
    }

    @Test func metadataIsForgottenOnceNeitherSaidAgainNorLive() {
        let clock = ManualClock()
        let latest = LatestValues(staleness: .seconds(10)) { clock.now.load(ordering: .relaxed) }
        latest.describe([MetricMetadata(family: "kept", type: .gauge), MetricMetadata(family: "dropped", type: .gauge)])
        clock.advance(11_000)
        latest.publish([Sample(metric: "kept", timestamp: 1, value: 1)], from: .remoteWrite)
        #expect(text(latest).0.contains("# TYPE kept gauge"))  // live: kept past its age
        latest.publish([Sample(metric: "dropped", timestamp: 1, value: 1)], from: .remoteWrite)
        #expect(text(latest).0.contains("# TYPE dropped untyped"))  // forgotten at the scrape before
    }
}
