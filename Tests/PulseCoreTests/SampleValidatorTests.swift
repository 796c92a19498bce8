import PulseCore
import Testing

@Suite struct SampleValidatorTests {
    let validator = SampleValidator()

    func problems(_ metric: String, _ labels: [Label] = [], ts: Int64 = 1_700_000_000_000, value: Double = 1) -> [SampleProblem] {
        validator.problems(in: Sample(key: SeriesKey(metric: metric, labels: labels), timestamp: ts, value: value))
    }

    @Test(arguments: ["up", "http_requests_total", "job:rate5m", "_private", "a1", "A_B:c"])
    func acceptsValidMetricNames(_ name: String) {
        #expect(problems(name).isEmpty)
    }

    @Test(arguments: ["", "1abc", "with-dash", "with space", "ünicode", "a.b", "a{b}", "tab\t", "emoji🚀", "\u{0}"])
    func refusesInvalidMetricNames(_ name: String) {
        #expect(problems(name).map(\.field) == ["metric"])
    }

    @Test func refusesOverlongMetricName() {
        let name = String(repeating: "a", count: 201)
        #expect(problems(name).first?.reason.contains("at most 200") == true)
    }

    @Test(arguments: ["__name__", "__anything", "1x", "a-b", "a:b", "", "ü"])
    func refusesInvalidOrReservedLabelNames(_ name: String) {
        let found = problems("m", [Label(name, "v")])
        #expect(found.count == 1)
        #expect(found.first?.field.hasPrefix("labels.") == true)
    }

    @Test func reservedPrefixHasItsOwnReason() {
        #expect(problems("m", [Label("__name__", "x")]).first?.reason.contains("reserved") == true)
    }

    @Test func refusesDuplicateLabelNames() {
        let found = problems("m", [Label("a", "1"), Label("a", "2")])
        #expect(found.contains { $0.reason.contains("more than once") })
    }

    @Test func refusesEmptyAndOverlongLabelValues() {
        #expect(problems("m", [Label("a", "")]).first?.reason.contains("empty") == true)
        #expect(problems("m", [Label("a", String(repeating: "x", count: 1025))]).first?.reason.contains("1025 bytes") == true)
        // The bound is in bytes: 400 three-byte characters are 1,200 bytes.
        #expect(!problems("m", [Label("a", String(repeating: "€", count: 400))]).isEmpty)
        #expect(problems("m", [Label("a", String(repeating: "x", count: 1024))]).isEmpty)
    }

    @Test func refusesTooManyLabels() {
        let labels = (0..<33).map { Label("l\($0)", "v") }
        #expect(problems("m", labels).map(\.field) == ["labels"])
        #expect(problems("m", Array(labels.prefix(32))).isEmpty)
    }

    @Test func limitsAreConfigurable() {
        let strict = SampleValidator(limits: SampleLimits(maxLabels: 1, maxLabelValueLength: 3))
        let sample = Sample(metric: "m", labels: ["a": "1234", "b": "1"], timestamp: 0, value: 0)
        #expect(strict.problems(in: sample).count == 2)
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, .signalingNaN])
    func refusesNonFiniteValues(_ value: Double) {
        #expect(problems("m", value: value).map(\.field) == ["value"])
    }

    @Test(arguments: [Int64(-1), Int64.min, Timestamp.latest + 1, Int64.max])
    func refusesTimestampsOutsideTheRange(_ ts: Int64) {
        #expect(problems("m", ts: ts).map(\.field) == ["ts"])
    }

    @Test func reportsEveryProblemAtOnce() {
        let found = problems("9bad", [Label("__x", ""), Label("ok", "v")], ts: -5, value: .nan)
        #expect(Set(found.map(\.field)) == ["metric", "labels.__x", "value", "ts"])
    }

    @Test func quotesHostileNamesSafely() {
        let found = problems("bad\u{1B}[31mname" + String(repeating: "x", count: 100))
        let reason = found.first?.reason ?? ""
        #expect(!reason.contains("\u{1B}"), "control characters are escaped in messages")
        #expect(reason.contains("…"), "long names are cut")
    }
}
