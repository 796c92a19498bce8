import PulseCore
import Testing

@Suite struct SeriesKeyTests {
    @Test func labelsAreSortedSoOrderDoesNotMatter() {
        let a = SeriesKey(metric: "m", labels: [Label("b", "2"), Label("a", "1")])
        let b = SeriesKey(metric: "m", labels: [Label("a", "1"), Label("b", "2")])
        #expect(a == b)
        #expect(a.hashValue == b.hashValue)
        #expect(a.labels.map(\.name) == ["a", "b"])
    }

    @Test func canonicalTextIsPrometheusNotation() {
        let key = SeriesKey(metric: "http_requests_total", labels: ["path": "/a\"b\\c\nd", "code": "200"])
        #expect(key.canonicalText == #"http_requests_total{code="200",path="/a\"b\\c\nd"}"#)
        #expect(SeriesKey(metric: "up").canonicalText == "up")
    }

    @Test(arguments: [
        "plain", "", "quote\"inside", "back\\slash", "new\nline", "tab\tand\r", "\u{0}nul\u{1F}", "ünïcødé ✓ 🚀",
        "'; DROP TABLE samples; --", "{\"json\":\"like\"}", "\u{2028}separator",
    ])
    func labelJSONRoundTripsAnyValue(_ value: String) throws {
        let labels = [Label("a", value), Label("b", "x")]
        let json = LabelJSON.encode(labels)
        #expect(LabelJSON.decode(json) == labels)
        #expect(!json.contains("\n"), "JSON text stays on one line")
    }

    @Test func labelJSONIsStable() {
        #expect(LabelJSON.encode([]) == "{}")
        #expect(SeriesKey(metric: "m", labels: ["z": "1", "a": "2"]).labelsJSON == #"{"a":"2","z":"1"}"#)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "{\"a\":\"1\"", "{\"a\":\"1\"}x", "[\"a\"]", "{\"a\":\"\\u12\"}", "{\"a\":\"\\q\"}"])
    func labelJSONRefusesWhatItDidNotWrite(_ text: String) {
        #expect(LabelJSON.decode(text) == nil)
    }

    @Test func keysOrderByMetricThenLabels() {
        let keys = [
            SeriesKey(metric: "b"),
            SeriesKey(metric: "a", labels: ["x": "2"]),
            SeriesKey(metric: "a", labels: ["x": "1"]),
        ]
        #expect(keys.sorted().map(\.canonicalText) == [#"a{x="1"}"#, #"a{x="2"}"#, "b"])
    }
}
