import Logging
import PulseCore
import PulseStore
import Synchronization
import Testing

/// The series rules live in the pipeline, so every source meets them and every
/// refusal is counted there by source and reason, over a real store.
@Suite struct PipelineRulesTests {
    final class CountingObserver: PipelineObserver {
        let counts = Mutex<[String: Int]>([:])
        func accepted(_ count: Int, from source: SampleSource) {
            counts.withLock { $0["\(source.rawValue) accepted", default: 0] += count }
        }
        func rejected(_ count: Int, from source: SampleSource, because reason: SampleRejection) {
            counts.withLock { $0["\(source.rawValue) \(reason.rawValue)", default: 0] += count }
        }
    }

    static let reserved = ReservedNames(explanation: "the gateway's own") { $0.hasPrefix("own_") }

    static func samples(_ metric: String, series: Int, at timestamp: Int64 = 1_000) -> [Sample] {
        (0..<series).map { Sample(metric: metric, labels: ["s": "\($0)"], timestamp: timestamp, value: Double($0)) }
    }

    @Test func reservedNamesAreRefusedFromEverySourceButTheGatewaysOwn() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let observer = CountingObserver()
        let pipeline = Pipeline(writer: store, cardinality: store, reservedNames: Self.reserved, observer: observer)
        for source in [SampleSource.ingest, .synthetic] {
            await #expect(throws: SeriesRefusal.reservedNames(["own_b", "own_x"], explanation: "the gateway's own")) {
                try await pipeline.accept(Self.samples("own_x", series: 2) + Self.samples("own_b", series: 1) + Self.samples("fine", series: 1), from: source, durability: .committed)
            }
        }
        try await pipeline.accept(Self.samples("own_x", series: 2), from: .collector, durability: .committed)
        #expect(try await store.catalog().map(\.key.metric) == ["own_x", "own_x"], "only the collector's batch was stored")
        #expect(observer.counts.withLock { $0 } == ["ingest reserved_name": 4, "synthetic reserved_name": 4, "collector accepted": 2])
        await store.close()
    }

    @Test func seriesLimitsHoldForEverySource() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let observer = CountingObserver()
        let pipeline = Pipeline(writer: store, cardinality: store, seriesLimits: SeriesLimits(maxNewSeriesPerBatch: 3, maxSeries: 5), observer: observer)
        await #expect(throws: SeriesRefusal.tooManyNewSeries(new: 4, limit: 3)) {
            try await pipeline.accept(Self.samples("a", series: 4), from: .collector, durability: .committed)
        }
        try await pipeline.accept(Self.samples("a", series: 3), from: .collector, durability: .committed)
        // Known series cost nothing: the same three again, at a later ts.
        try await pipeline.accept(Self.samples("a", series: 3, at: 2_000), from: .synthetic, durability: .committed)
        await #expect(throws: SeriesRefusal.seriesLimit(stored: 3, new: 3, limit: 5)) {
            try await pipeline.accept(Self.samples("b", series: 3), from: .synthetic, durability: .committed)
        }
        try await pipeline.accept(Self.samples("b", series: 2), from: .ingest, durability: .committed)
        #expect(try await store.catalog().count == 5)
        #expect(observer.counts.withLock { $0 } == [
            "collector too_many_new_series": 4, "collector accepted": 3, "synthetic accepted": 3, "synthetic series_limit": 3, "ingest accepted": 2,
        ])
        await store.close()
    }

    /// A batch checked against other limits than the pipeline's is checked again.
    @Test func aBatchValidatedAgainstOtherLimitsIsValidatedAgain() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let pipeline = Pipeline(validator: SampleValidator(limits: SampleLimits(maxLabels: 1)), writer: store)
        let twoLabels = [Sample(metric: "m", labels: ["a": "1", "b": "2"], timestamp: 1_000, value: 1)]
        let lenient = try SampleValidator().validate(twoLabels).get()
        await #expect(throws: RejectedSamples.self) {
            try await pipeline.accept(lenient, from: .ingest, durability: .committed)
        }
        let strict = try pipeline.validator.validate([Sample(metric: "m", labels: ["a": "1"], timestamp: 1_000, value: 1)]).get()
        try await pipeline.accept(strict, from: .ingest, durability: .committed)
        #expect(try await store.catalog().count == 1)
        await store.close()
    }

    @Test(arguments: [
        ("application/json", "JSON"), ("Application/JSON; charset=utf-8", "JSON"), ("text/plain; version=0.0.4", "Prometheus text"),
        (" text/plain ;version=0.0.4", "Prometheus text"), ("application/xml", nil), ("", nil), ("text/plainer", nil),
    ] as [(String, String?)])
    func parsersAreChosenByMediaType(_ contentType: String, _ expected: String?) {
        #expect(IngestParsers.standard.parser(forContentType: contentType)?.name == expected)
    }

    @Test func aParsedBodyIsCheckedWithThePipelinesValidatorAndCounted() throws {
        let observer = CountingObserver()
        let pipeline = Pipeline(validator: SampleValidator(limits: SampleLimits(maxLabels: 1)), writer: NoWriter(), observer: observer)
        let body = Array(#"{"samples":[{"metric":"m","labels":{"a":"1","b":"2"},"value":1},{"metric":"ok","value":2},{"metric":"9","value":3}]}"#.utf8)
        let result = pipeline.parse(body, with: JSONIngestParser(), from: .ingest, now: 5_000, maxSamples: 10)
        guard case let .failure(rejection) = result else { Issue.record("accepted \(result)"); return }
        #expect(rejection.reason == .invalidSamples)
        #expect(rejection.problems.map(\.index) == [0, 2])
        #expect(observer.counts.withLock { $0 } == ["ingest invalid": 2])
        let good = try pipeline.parse(Array("ok 2\n".utf8), with: PrometheusTextParser(), from: .ingest, now: 5_000, maxSamples: 10).get()
        #expect(good.samples == [Sample(metric: "ok", timestamp: 5_000, value: 2)])
        #expect(good.limits == pipeline.validator.limits)
    }

    struct NoWriter: SampleWriter {
        func write(_ samples: [Sample], durability: Durability) async throws {}
        func write(_ samples: [Sample], idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt { .stored }
        var writeFailure: String? { nil }
    }
}
