import PulseCore
import Testing

@Suite struct PrometheusTextTests {
    let now: Int64 = 1_764_470_000_000

    func parse(_ text: String, maxSamples: Int = 1_000) -> Result<[Sample], IngestRejection> {
        PrometheusText.samples(from: Array(text.utf8), now: now, maxSamples: maxSamples, validator: SampleValidator())
    }

    @Test func parsesAnExposition() throws {
        let samples = try parse("""
            # HELP http_requests_total Requests served.
            # TYPE http_requests_total counter
            http_requests_total{method="get",code="200"} 1027 1764469999000
            http_requests_total{method="post", code="500",} 3
            # a plain comment
            
            rpc_latency_seconds_bucket{le="0.5"} 12
            weird{path="C:\\\\dir\\"x\\"\\nnext"} -1.5e-3
            up 1\r
            """).get()
        #expect(samples.count == 5)
        #expect(samples[0] == Sample(metric: "http_requests_total", labels: ["method": "get", "code": "200"], timestamp: 1_764_469_999_000, value: 1027))
        #expect(samples[1].timestamp == now)
        #expect(samples[1].key[label: "code"] == "500")
        #expect(samples[2].key[label: "le"] == "0.5")
        #expect(samples[3].key[label: "path"] == "C:\\dir\"x\"\nnext")
        #expect(samples[3].value == -0.0015)
        #expect(samples[4] == Sample(metric: "up", timestamp: now, value: 1))
    }

    @Test(arguments: [
        ("{a=\"1\"} 1", "metric"),
        ("m{a=1} 1", "quoted"),
        ("m{a=\"1} 1", "unterminated"),
        ("m{a=\"\\t\"} 1", "escapes"),
        ("m{a=\"1\" b=\"2\"} 1", "expected , or }"),
        ("m", "expected a value"),
        ("m one", "not a number"),
        ("m 1 2 3", "expected a value"),
        ("m 1 soon", "timestamp"),
        ("m NaN", "finite"),
        ("m +Inf", "finite"),
        ("m nan", "not a number"),
        ("m 0x10", "not a number"),
        ("m{__name__=\"x\"} 1", "reserved"),
        ("bad-name 1", "expected a value"),
        ("# TYPE m sometimes", "# TYPE"),
        ("# HELP 9bad text", "# HELP"),
    ])
    func refusesBadLines(_ line: String, _ message: String) {
        guard case let .failure(rejection) = parse("ok 1\n" + line) else {
            Issue.record("accepted: \(line)")
            return
        }
        #expect(rejection.problems.allSatisfy { $0.index == 2 }, "\(rejection.problems)")
        #expect(rejection.problems.contains { $0.reason.contains(message) || $0.field.contains(message) }, "\(line): \(rejection.problems)")
    }

    @Test func refusesInvalidUTF8AndTooManySamples() {
        guard case .failure = PrometheusText.samples(from: [0x6D, 0x20, 0xFF], now: now, maxSamples: 10, validator: SampleValidator()) else {
            Issue.record("invalid UTF-8 accepted")
            return
        }
        guard case let .failure(rejection) = parse("a 1\nb 2\nc 3", maxSamples: 2) else {
            Issue.record("too many accepted")
            return
        }
        #expect(rejection.message.contains("more than 2"))
    }
}
