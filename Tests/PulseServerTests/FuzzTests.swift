import Foundation
import PulseCore
import PulseTestSupport
import Testing

/// The ingest parsers against random and mutated input, for a bounded time:
/// they must answer every input (a value or a rejection), never crash or
/// hang, and what they accept must satisfy the validator.
///
/// Seeded, so a failure repeats: the seed and the input are in the message.
/// `PULSEGATE_FUZZ_SECONDS` sets the time per parser (default 3 s);
/// `PULSEGATE_FUZZ_SEED` a fixed seed (default: a new one each run, printed).
extension CPUBoundSuites {
@Suite struct FuzzTests {
    static let maxSamples = 20
    static let seconds = Double(ProcessInfo.processInfo.environment["PULSEGATE_FUZZ_SECONDS"] ?? "") ?? 3
    static let seed = UInt64(ProcessInfo.processInfo.environment["PULSEGATE_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)

    static let jsonSeeds: [String] = [
        #"{"samples":[{"metric":"cpu","labels":{"host":"a","core":"1"},"ts":1764470000000,"value":0.5}]}"#,
        #"{"samples":[{"metric":"m","value":-1.5e-3},{"metric":"n_total","labels":{},"ts":1.76447e12,"value":7}]}"#,
        #"{"samples":[{"metric":"u","labels":{"v":"\u00e9\ud83d\ude00 \"q\" \\ \n"},"value":1}]}"#,
        #"{"samples":[]}"#,
    ]
    static let textSeeds: [String] = [
        "# HELP http_requests_total Requests.\n# TYPE http_requests_total counter\nhttp_requests_total{method=\"get\",code=\"200\"} 1027 1764470000000\n",
        "cpu_seconds{mode=\"idle\"} 3.5e+02\nmemory_bytes 1.2e9\nup 1\n",
        "a{l=\"x\\\"y\\\\z\\n\"} -Inf\nb NaN\nc +Inf 1764470000000\n",
    ]

    @Test func jsonIngestAnswersEveryInput() async {
        await fuzz(seeds: Self.jsonSeeds) { bytes in
            JSONIngest.samples(from: bytes, now: 1_764_470_000_000, maxSamples: Self.maxSamples, validator: SampleValidator())
        }
    }

    @Test func prometheusTextAnswersEveryInput() async {
        await fuzz(seeds: Self.textSeeds) { bytes in
            PrometheusText.samples(from: bytes, now: 1_764_470_000_000, maxSamples: Self.maxSamples, validator: SampleValidator())
        }
    }

    /// The seeds themselves parse to what they say, so the fuzzers start from accepted input.
    @Test func theSeedsAreAccepted() throws {
        let json = try JSONIngest.samples(from: Array(Self.jsonSeeds[0].utf8), now: 0, maxSamples: Self.maxSamples, validator: SampleValidator()).get()
        #expect(json == [Sample(metric: "cpu", labels: ["host": "a", "core": "1"], timestamp: 1_764_470_000_000, value: 0.5)])
        let text = try PrometheusText.samples(from: Array(Self.textSeeds[1].utf8), now: 7, maxSamples: Self.maxSamples, validator: SampleValidator()).get()
        #expect(text == [
            Sample(metric: "cpu_seconds", labels: ["mode": "idle"], timestamp: 7, value: 350),
            Sample(metric: "memory_bytes", timestamp: 7, value: 1.2e9), Sample(metric: "up", timestamp: 7, value: 1),
        ])
        for seed in Self.jsonSeeds {
            #expect(throws: Never.self) { try JSONIngest.samples(from: Array(seed.utf8), now: 0, maxSamples: Self.maxSamples, validator: SampleValidator()).get() }
        }
        for seed in Self.textSeeds.prefix(2) {
            #expect(throws: Never.self) { try PrometheusText.samples(from: Array(seed.utf8), now: 0, maxSamples: Self.maxSamples, validator: SampleValidator()).get() }
        }
        // The third is well-formed text whose values (±Inf, NaN) the validator refuses.
        if case let .failure(rejection) = PrometheusText.samples(from: Array(Self.textSeeds[2].utf8), now: 0, maxSamples: Self.maxSamples, validator: SampleValidator()) {
            #expect(rejection.reason == .invalidSamples && rejection.problems.count == 3, "\(rejection)")
        } else {
            Issue.record("infinite and NaN values were accepted")
        }
    }

    /// `maxSamples` is a bound on what a parser returns: at it, accepted; one more, refused as too many.
    @Test func theSampleBoundHoldsInBothFormats() throws {
        let json = #"{"samples":["# + (0..<21).map { #"{"metric":"m","labels":{"i":"\#($0)"},"value":1}"# }.joined(separator: ",") + "]}"
        let text = (0..<21).map { "m{i=\"\($0)\"} 1\n" }.joined()
        let atTheBound = #"{"samples":["# + (0..<20).map { #"{"metric":"m","labels":{"i":"\#($0)"},"value":1}"# }.joined(separator: ",") + "]}"
        #expect(try JSONIngest.samples(from: Array(atTheBound.utf8), now: 0, maxSamples: 20, validator: SampleValidator()).get().count == 20)
        let textAtTheBound = (0..<20).map { "m{i=\"\($0)\"} 1\n" }.joined()
        #expect(try PrometheusText.samples(from: Array(textAtTheBound.utf8), now: 0, maxSamples: 20, validator: SampleValidator()).get().count == 20)
        for result in [
            JSONIngest.samples(from: Array(json.utf8), now: 0, maxSamples: 20, validator: SampleValidator()),
            PrometheusText.samples(from: Array(text.utf8), now: 0, maxSamples: 20, validator: SampleValidator()),
        ] {
            guard case let .failure(rejection) = result else {
                Issue.record("21 samples accepted with maxSamples 20")
                continue
            }
            #expect(rejection.reason == .tooManySamples, "\(rejection)")
        }
    }

    @Test func deepNestingIsRefusedNotRecursedInto() {
        for depth in [33, 1_000, 100_000] {
            let body = Array((#"{"samples":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}").utf8)
            guard case let .failure(rejection) = JSONIngest.samples(from: body, now: 0, maxSamples: 10, validator: SampleValidator()) else {
                Issue.record("nesting \(depth) deep was accepted")
                continue
            }
            #expect(rejection.reason == .malformed && !rejection.message.isEmpty, "\(rejection)")
        }
    }

    /// Runs `parse` on mutations of `seeds` and on random bytes until the time is up.
    private func fuzz(seeds: [String], _ parse: ([UInt8]) -> Result<[Sample], IngestRejection>) async {
        var random = SplitMix64(seed: Self.seed)
        let validator = SampleValidator()
        let deadline = Date().addingTimeInterval(Self.seconds)
        var inputs = 0, accepted = 0
        var reasons: [IngestRejection.Reason: Int] = [:]
        while Date() < deadline {
            let input = random.next() % 8 == 0 ? random.bytes(count: Int(random.next() % 512)) : mutate(Array(seeds[Int(random.next() % UInt64(seeds.count))].utf8), &random)
            let started = threadCPUTime()
            let result = parse(input)
            let took = threadCPUTime() - started
            inputs += 1
            if took > 1 {
                Issue.record("seed \(Self.seed): one input took \(took) s of CPU: \(Array(input.prefix(200)))")
            }
            // A seconds-long loop must not hold a thread of the cooperative pool (two here):
            // other tests' servers answer pings and requests from it.
            if inputs % 256 == 0 { await Task.yield() }
            if case let .failure(rejection) = result {
                reasons[rejection.reason, default: 0] += 1
                if rejection.message.isEmpty { Issue.record("seed \(Self.seed): a rejection without a message for \(Array(input.prefix(200)))") }
            }
            if case let .success(samples) = result {
                accepted += 1
                if samples.count > Self.maxSamples {
                    Issue.record("seed \(Self.seed): \(samples.count) samples accepted, at most \(Self.maxSamples) may be")
                }
                for sample in samples where !validator.problems(in: sample).isEmpty {
                    Issue.record("seed \(Self.seed): accepted an invalid sample \(sample) from \(String(decoding: input.prefix(300), as: UTF8.self))")
                }
            }
        }
        print("fuzz (seed \(Self.seed)): \(inputs) inputs in \(Self.seconds) s, \(accepted) accepted, rejected: \(reasons)")
        #expect(inputs > 100)
        // Mutated seeds are often still good and often not: a parser that took or refused
        // everything would be found out here.
        #expect(accepted > 0 && reasons.values.reduce(0, +) > 0, "\(accepted) accepted, rejected: \(reasons)")
        #expect(reasons[.malformed, default: 0] > 0, "broken syntax must be refused as malformed: \(reasons)")
    }

    /// One to four edits: flip a bit, insert, delete or repeat a byte, cut the tail, splice in a token.
    private func mutate(_ input: [UInt8], _ random: inout SplitMix64) -> [UInt8] {
        var bytes = input
        let tokens: [[UInt8]] = ["{", "}", "[", "]", "\"", "\\", ",", ":", "1e309", "-0", "null", "\\u0000", "\\ud800", "\n", "#", "{}", "\u{FF}"].map { Array($0.utf8) } + [[0xFF], [0xC0, 0x80], [0xED, 0xA0, 0x80]]
        for _ in 0...(random.next() % 4) {
            let position = bytes.isEmpty ? 0 : Int(random.next() % UInt64(bytes.count))
            switch random.next() % 6 {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << (random.next() % 8))
            case 1: bytes.insert(UInt8(truncatingIfNeeded: random.next()), at: position)
            case 2 where !bytes.isEmpty: bytes.remove(at: position)
            case 3 where !bytes.isEmpty: bytes.insert(contentsOf: bytes[position...].prefix(Int(random.next() % 64)), at: position)
            case 4: bytes = Array(bytes.prefix(position))
            default: bytes.insert(contentsOf: tokens[Int(random.next() % UInt64(tokens.count))], at: position)
            }
        }
        return bytes
    }
}
}
