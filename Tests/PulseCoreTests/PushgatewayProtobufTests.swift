@testable import PulseCore
import PulseTestSupport
import Testing

/// client_golang's protobuf delimited pushes, read into the same families as the text format.
@Suite struct PushgatewayProtobufTests {
    typealias Encoder = MetricFamilyEncoder

    func read(_ body: [UInt8], _ path: String = "job/j", maxSamples: Int = 100) throws -> Result<PushgatewayText.Push, IngestRejection> {
        PushgatewayProtobuf.read(body, group: try GroupingKey(path: path[...]), now: 1_000, maxSamples: maxSamples, validator: SampleValidator())
    }

    /// The same families as the text push of the same metrics: one exposition for either format.
    @Test func readsWhatTheTextFormatSays() throws {
        let families: [[UInt8]] = [
            Encoder.family("jobs_total", help: "Jobs.", type: .counter, [.counter(3, labels: [("queue", "mail")]), .counter(1e7, labels: [("queue", "sms")])]),
            Encoder.family("rpc_seconds", help: "RPC.", type: .summary, [.summary(count: 3, sum: 2, quantiles: [(0.5, 1), (0.9, .nan)])]),
            Encoder.family("sizes", help: "", type: .histogram, [.histogram(labels: [("x", "1")], count: 3, sum: 2.5, buckets: [(1, 1), (10, 2)])]),
            Encoder.family("temperature", type: .gauge, [.gauge(-0.5)]),
            Encoder.family("free", type: .untyped, [.untyped(4)]),
        ]
        let protobuf = families.flatMap { $0 }
        let text = """
            # HELP jobs_total Jobs.
            # TYPE jobs_total counter
            jobs_total{queue="mail"} 3
            jobs_total{queue="sms"} 1e7
            # HELP rpc_seconds RPC.
            # TYPE rpc_seconds summary
            rpc_seconds{quantile="0.5"} 1
            rpc_seconds{quantile="0.9"} NaN
            rpc_seconds_sum 2
            rpc_seconds_count 3
            # HELP sizes 
            # TYPE sizes histogram
            sizes_bucket{x="1",le="1"} 1
            sizes_bucket{x="1",le="10"} 2
            sizes_sum{x="1"} 2.5
            sizes_count{x="1"} 3
            # TYPE temperature gauge
            temperature -0.5
            free 4

            """
        let fromProtobuf = try read(protobuf, "job/j/instance/i").get()
        let fromText = try PushgatewayText.read(Array(text.utf8), group: try GroupingKey(path: "job/j/instance/i"), now: 1_000, maxSamples: 100, validator: SampleValidator()).get()
        #expect(fromProtobuf.families.map(\.name) == ["free", "jobs_total", "rpc_seconds", "sizes", "temperature"])
        #expect(fromProtobuf.families.map(\.help) == [nil, "Jobs.", "RPC.", "", nil])
        #expect(fromProtobuf.families.map(\.type) == [.unknown, .counter, .summary, .histogram, .gauge])
        #expect(fromProtobuf.samples == fromText.samples)
        #expect(fromProtobuf.skipped == [.nan: 1] && fromText.skipped == [.nan: 1])
        let groups = PushGroups(clock: { 0 })
        groups.push(fromProtobuf.families, to: try GroupingKey(path: "job/j/instance/i"), .replaceGroup)
        let exposed = groups.exposition().map { String(decoding: $0.header + $0.lines, as: UTF8.self) }.joined()
        let again = PushGroups(clock: { 0 })
        again.push(fromText.families, to: try GroupingKey(path: "job/j/instance/i"), .replaceGroup)
        #expect(exposed == again.exposition().map { String(decoding: $0.header + $0.lines, as: UTF8.self) }.joined())
        #expect(exposed.contains("sizes_bucket{instance=\"i\",job=\"j\",x=\"1\",le=\"+Inf\"} 3\n"), "\(exposed)")
    }

    @Test func refusalsNameTheirFamily() throws {
        func problems(_ body: [UInt8]) throws -> [String] {
            switch try read(body, maxSamples: 5) {
            case .success: return []
            case let .failure(rejection): return rejection.problems.isEmpty ? [rejection.message] : rejection.problems.map(\.description)
            }
        }
        #expect(try problems(Encoder.family("m", type: .gauge, [.gauge(1, timestampMs: 5)])) == ["sample 1: timestamp_ms: pushed metrics must not have timestamps (the push's time is theirs)"])
        #expect(try problems(Encoder.family("ok", type: .gauge, [.gauge(1)]) + Encoder.family("m", type: .gauge, [.counter(1)])) == ["sample 2: metric: a metric of m has a value of another type than its family's gauge"])
        #expect(try problems(Encoder.family("m", type: .gauge, [.empty()])) == ["sample 1: metric: a metric of m has no gauge value"])
        #expect(try problems(Encoder.family("m", type: .gaugeHistogram, [.empty()])).first?.contains("type 5 of m cannot be exposed") == true)
        #expect(try problems(Encoder.family("m", type: .gauge, [.gauge(1, labels: [("a", "1"), ("a", "2")])])) == ["sample 1: labels.a: label name appears more than once"])
        #expect(try problems(Encoder.family("m", type: .gauge, [.gauge(1), .gauge(2)])) == [#"sample 1: metric: m{instance="",job="j"} was pushed before with the same name and label values"#])
        #expect(try problems(Encoder.family("m", type: .gauge, [.gauge(1)]) + Encoder.family("m", type: .gauge, [.gauge(1)])) == ["sample 2: name: m comes twice in one push"])
        #expect(try problems(Encoder.family("1m", type: .gauge, [.gauge(1)])).count == 1)
        #expect(try problems(Encoder.family("m", type: .gauge, (0..<6).map { .gauge(1, labels: [("i", "\($0)")]) })) == ["more than 5 samples in one request: split the request"])
        let valid = Encoder.family("m", type: .gauge, [.gauge(1)])
        #expect(try problems(Array(valid.dropLast())).first?.contains("family 1:") == true, "cut short")
        #expect(try problems([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]).first?.contains("varint") == true)
        #expect(try problems([0x02, 0x09, 0x00]).first?.contains("wire type") == true, "a name sent as a fixed64")
        #expect(try problems(Array("m 1\n".utf8)).first?.hasPrefix("the body is not delimited MetricFamily messages") == true, "text sent as protobuf")
    }
}
