import PulseCore
import PulseTestSupport
import Testing

/// remote_write's `WriteRequest` read by hand: what is stored, what is skipped,
/// what ends a series, and every malformed message refused with a reason.
@Suite struct RemoteWriteParserTests {
    typealias Series = RemoteWriteEncoder.Series
    let parser = RemoteWriteParser()
    let validator = SampleValidator()
    let now: Int64 = 1_764_000_000_000

    func parse(_ bytes: [UInt8], maxSamples: Int = 100_000) -> Result<ValidatedBatch, IngestRejection> {
        parser.parse(bytes, now: now, maxSamples: maxSamples, validator: validator)
    }

    func batch(_ bytes: [UInt8]) throws -> ValidatedBatch {
        try parse(bytes).get()
    }

    func rejection(_ bytes: [UInt8], maxSamples: Int = 100_000) throws -> IngestRejection {
        guard case let .failure(rejection) = parse(bytes, maxSamples: maxSamples) else {
            Issue.record("accepted what should be refused")
            throw IngestRejection(.malformed, "accepted")
        }
        return rejection
    }

    @Test func everySampleOfEverySeriesIsReadWithItsLabels() throws {
        let request = RemoteWriteEncoder.writeRequest([
            Series([("__name__", "http_requests_total"), ("job", "api"), ("code", "200")], samples: [(now, 1027), (now + 15_000, 1030.5)]),
            Series([("instance", "a:9100"), ("__name__", "up")], samples: [(now, 1)]),
            Series([("__name__", "temperature"), ("room", "ü")], samples: [(now - 1, -0.0), (now, -1e-300), (now + 1, 1.7976931348623157e308)]),
        ])
        let batch = try batch(request)
        #expect(batch.samples == [
            Sample(metric: "http_requests_total", labels: ["job": "api", "code": "200"], timestamp: now, value: 1027),
            Sample(metric: "http_requests_total", labels: ["job": "api", "code": "200"], timestamp: now + 15_000, value: 1030.5),
            Sample(metric: "up", labels: ["instance": "a:9100"], timestamp: now, value: 1),
            Sample(metric: "temperature", labels: ["room": "ü"], timestamp: now - 1, value: -0.0),
            Sample(metric: "temperature", labels: ["room": "ü"], timestamp: now, value: -1e-300),
            Sample(metric: "temperature", labels: ["room": "ü"], timestamp: now + 1, value: 1.7976931348623157e308),
        ])
        #expect(batch.samples[3].value.sign == .minus)  // -0.0 kept bit for bit
        #expect(batch.ended.isEmpty && batch.skipped.isEmpty && batch.metadata.isEmpty)
    }

    @Test func theStalenessMarkerEndsItsSeriesAndIsNotStored() throws {
        let stale = Double(bitPattern: RemoteWriteRequest.staleMarkerBits)
        let batch = try batch(RemoteWriteEncoder.writeRequest([
            Series([("__name__", "up"), ("job", "node")], samples: [(now, 1), (now + 15_000, stale)]),
        ]))
        #expect(batch.samples == [Sample(metric: "up", labels: ["job": "node"], timestamp: now, value: 1)])
        #expect(batch.ended == [SeriesEnd(key: SeriesKey(metric: "up", labels: ["job": "node"]), timestamp: now + 15_000)])
        #expect(batch.skipped.isEmpty)
    }

    @Test func otherNonFiniteValuesAndNativeHistogramsAreSkippedAloneAndCounted() throws {
        let otherNaN = Double(bitPattern: 0x7ff8_0000_0000_0001)
        let batch = try batch(RemoteWriteEncoder.writeRequest([
            Series([("__name__", "rpc_duration_seconds"), ("quantile", "0.99")], samples: [(now, .nan), (now + 1, otherNaN), (now + 2, 0.25)]),
            Series([("__name__", "ratio")], samples: [(now, .infinity), (now, -.infinity)]),
            Series([("__name__", "latency")], samples: [], histograms: 2),
        ]))
        #expect(batch.samples == [Sample(metric: "rpc_duration_seconds", labels: ["quantile": "0.99"], timestamp: now + 2, value: 0.25)])
        #expect(batch.skipped == [.nan: 2, .infinite: 2, .nativeHistogram: 2])
        #expect(batch.skippedCount == 6)
        #expect(batch.ended.isEmpty)
    }

    @Test func aLabelWithAnEmptyValueIsAbsentAsInPrometheus() throws {
        let batch = try batch(RemoteWriteEncoder.writeRequest([Series([("__name__", "m"), ("a", ""), ("b", "x")], samples: [(now, 1)])]))
        #expect(batch.samples.map(\.key) == [SeriesKey(metric: "m", labels: ["b": "x"])])
    }

    @Test func metadataIsReadWithItsType() throws {
        let batch = try batch(RemoteWriteEncoder.writeRequest([], metadata: [
            .init(type: 1, family: "http_requests_total", help: "Requests.\nServed.", unit: ""),
            .init(type: 3, family: "request_duration_seconds", help: "Latency.", unit: "seconds"),
            .init(type: 5, family: "rpc_duration_seconds"),
            .init(type: 42, family: "future_kind"),
            .init(type: 2, family: ""),  // no family: nothing to attach it to
        ]))
        #expect(batch.isEmpty)
        #expect(batch.metadata == [
            MetricMetadata(family: "http_requests_total", type: .counter, help: "Requests.\nServed."),
            MetricMetadata(family: "request_duration_seconds", type: .histogram, help: "Latency.", unit: "seconds"),
            MetricMetadata(family: "rpc_duration_seconds", type: .summary),
            MetricMetadata(family: "future_kind", type: .unknown),
        ])
    }

    @Test func unknownFieldsAreSkippedAsProto3Requires() throws {
        let series = RemoteWriteEncoder.timeSeries(Series([("__name__", "m")], samples: [(now, 2)]))
        let request = RemoteWriteEncoder.field(2, varint: 7)  // reserved in WriteRequest
            + RemoteWriteEncoder.field(1, bytes: series + RemoteWriteEncoder.field(9, fixed64: 1) + RemoteWriteEncoder.field(3, bytes: [0x08, 0x01]))
            + RemoteWriteEncoder.tag(15, wireType: 5) + [1, 2, 3, 4]
        #expect(try batch(request).samples == [Sample(metric: "m", timestamp: now, value: 2)])
    }

    @Test func aKeyCacheGivesTheSameBatchesAndKeepsOnlyCheckedKeys() throws {
        let cache = SeriesKeyCache(capacity: 3)
        let cached = RemoteWriteParser(cache: cache)
        let request = RemoteWriteEncoder.writeRequest([
            Series([("__name__", "m"), ("job", "a"), ("empty", "")], samples: [(now, 1)]),
            Series([("__name__", "m"), ("job", "b")], samples: [(now, 2), (now + 1, 3)]),
        ])
        let uncached = try batch(request).samples
        for _ in 0..<3 {
            #expect(try cached.parse(request, now: now, maxSamples: 100, validator: validator).get().samples == uncached)
        }
        #expect(cache.count == 2)
        // An invalid series is refused every time, never cached.
        let invalid = RemoteWriteEncoder.writeRequest([Series([("__name__", "m"), ("bad-name", "x")], samples: [(now, 1)])])
        for _ in 0..<2 {
            guard case let .failure(rejection) = cached.parse(invalid, now: now, maxSamples: 100, validator: validator) else {
                Issue.record("an invalid series was accepted")
                return
            }
            #expect(rejection.problems.map(\.field) == ["timeseries[0].labels.bad-name"])
        }
        #expect(cache.count == 2)
        // A cached key with a sample out of range still refuses its request.
        let late = RemoteWriteEncoder.writeRequest([Series([("__name__", "m"), ("job", "a"), ("empty", "")], samples: [(-1, 1)])])
        #expect((try? cached.parse(late, now: now, maxSamples: 100, validator: validator).get()) == nil)
        // Keys checked against other limits are not used: two labels are now too many.
        let strict = SampleValidator(limits: SampleLimits(maxLabels: 0))
        guard case .failure = cached.parse(request, now: now, maxSamples: 100, validator: strict) else {
            Issue.record("keys checked against other limits were used")
            return
        }
        #expect(cache.count == 0)
        // Bounded: past its capacity it starts afresh.
        for index in 0..<5 {
            _ = try cached.parse(RemoteWriteEncoder.writeRequest([Series([("__name__", "n\(index)")], samples: [(now, 1)])]), now: now, maxSamples: 100, validator: validator).get()
        }
        #expect(cache.count <= 3)
    }

    // MARK: Refused: the request can never succeed

    @Test func invalidSeriesAreEachNamedAndNothingIsKept() throws {
        let rejection = try rejection(RemoteWriteEncoder.writeRequest([
            Series([("__name__", "ok")], samples: [(now, 1)]),
            Series([("job", "x")], samples: [(now, 1), (now + 1, 2)]),
            Series([("__name__", "m"), ("job", "a"), ("job", "b")], samples: [(now, 1)]),
            Series([("__name__", "2bad")], samples: [(now, 1)]),
            Series([("__name__", "m"), ("__name__", "n")], samples: [(now, 1)]),
            Series([("__name__", "m"), ("bad-label", "v")], samples: [(now, 1)]),
            Series([("__name__", "m")], samples: [(-5, 1)]),
        ]))
        #expect(rejection.reason == .invalidSamples)
        #expect(rejection.message == "6 series are invalid; nothing was stored")
        #expect(rejection.refusedSamples == 7)
        let fields = rejection.problems.map(\.field)
        #expect(fields.contains("timeseries[1].labels"))
        #expect(fields.contains("timeseries[2].labels.job"))
        #expect(fields.contains("timeseries[3].metric"))
        #expect(fields.contains("timeseries[4].labels.__name__"))
        #expect(fields.contains("timeseries[5].labels.bad-label"))
        #expect(fields.contains("timeseries[6].samples.ts"))
        #expect(!fields.contains { $0.hasPrefix("timeseries[0]") })
    }

    @Test func tooManySamplesAreRefusedBeforeTheRestIsRead() throws {
        let request = RemoteWriteEncoder.writeRequest((0..<10).map { Series([("__name__", "m\($0)")], samples: [(now, 1), (now + 1, 2)]) })
        #expect(try rejection(request, maxSamples: 19).reason == .tooManySamples)
        #expect(try batch(request).count == 20)
        let histograms = RemoteWriteEncoder.writeRequest([Series([("__name__", "h")], samples: [], histograms: 5)])
        #expect(try rejection(histograms, maxSamples: 4).reason == .tooManySamples)
    }

    @Test func everyTruncationIsMalformedUnlessItEndsBetweenTwoSeries() throws {
        let series = (0..<3).map { RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.timeSeries(Series([("__name__", "m\($0)"), ("job", "j")], samples: [(now, Double($0))]))) }
        let request = series.flatMap { $0 }
        var boundaries: Set<Int> = [0]
        var offset = 0
        for entry in series { offset += entry.count; boundaries.insert(offset) }
        for length in 0...request.count {
            switch parse(Array(request.prefix(length))) {
            case let .success(batch):
                #expect(boundaries.contains(length), "a request cut at \(length) of \(request.count) bytes was accepted")
                let complete = series.indices.filter { series[0...$0].map(\.count).reduce(0, +) <= length }.count
                #expect(batch.count == complete)
            case let .failure(rejection):
                #expect(!boundaries.contains(length))
                #expect(rejection.reason == .malformed)
            }
        }
    }

    @Test(arguments: [
        ("a varint of eleven bytes", RemoteWriteEncoder.tag(9, wireType: 0) + [UInt8](repeating: 0xff, count: 10) + [0x01], "varint overflows"),
        ("a varint past 64 bits in its tenth byte", [UInt8](repeating: 0xff, count: 9) + [0x02], "overflows 64 bits"),
        ("a varint cut short", [0x0a, 0xff], "runs past the end"),
        ("a length past the end", [0x0a, 0x05, 0x0a, 0x00], "runs past the end"),
        ("a huge length", [0x0a] + RemoteWriteEncoder.varint(UInt64.max >> 1), "runs past the end"),
        ("timeseries as a varint", RemoteWriteEncoder.field(1, varint: 3), "WriteRequest.timeseries has wire type 0"),
        ("a sample value as a varint", RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.field(2, bytes: RemoteWriteEncoder.field(1, varint: 1))), "sample value has wire type 0"),
        ("a timestamp as fixed64", RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.field(2, bytes: RemoteWriteEncoder.field(2, fixed64: 1))), "sample timestamp has wire type 1"),
        ("a label as a fixed64", RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.field(1, fixed64: 1)), "labels has wire type 1"),
        ("a group (wire type 3)", RemoteWriteEncoder.tag(1, wireType: 3), "wire type 3"),
        ("wire type 7", RemoteWriteEncoder.tag(4, wireType: 7), "wire type 7"),
        ("field number 0", [0x02, 0x00], "field number 0"),
        ("a label name that is not UTF-8", RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.field(1, bytes: RemoteWriteEncoder.field(1, bytes: [0xc3, 0x28]))), "not valid UTF-8"),
        ("a fixed32 cut short", RemoteWriteEncoder.tag(6, wireType: 5) + [1, 2], "runs past the end"),
    ] as [(String, [UInt8], String)])
    func malformedMessagesAreRefusedWithTheirReason(_ what: String, bytes: [UInt8], reason: String) throws {
        let rejection = try rejection(bytes)
        #expect(rejection.reason == .malformed, "\(what)")
        #expect(rejection.message.hasPrefix("the body is not a remote_write WriteRequest: "), "\(what)")
        #expect(rejection.message.contains(reason), "\(what): \(rejection.message)")
    }

    @Test func randomBytesAreNeverMoreThanRefused() {
        var random = SplitMix64(seed: 15)
        let valid = RemoteWriteEncoder.writeRequest((0..<5).map { Series([("__name__", "m\($0)"), ("a", "b")], samples: [(now, 1)]) })
        for round in 0..<2_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = (0..<Int(random.next() % 64)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                bytes = valid  // a valid request with a few bytes flipped
                for _ in 0..<(1 + Int(random.next() % 3)) { bytes[Int(random.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: random.next() | 1) }
            }
            switch parse(bytes) {
            case let .success(batch): #expect(batch.count <= bytes.count)
            case let .failure(rejection): #expect(!rejection.message.isEmpty)
            }
        }
    }
}
