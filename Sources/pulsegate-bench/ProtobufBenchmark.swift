import ArgumentParser
import Foundation
import PulseCore
import PulseTestSupport
import SwiftProtobuf

/// A remote_write `WriteRequest` decoded into samples two ways, the same request
/// in the same run: Pulsegate's hand decoder (`RemoteWriteRequest`) and
/// swift-protobuf's generated code (`Protobuf/remote.pb.swift`). Both end in the
/// same samples (checked), so the difference is the decoding alone. Also the
/// endpoint's whole parse (decoding, its key cache, validation) for scale.
struct ProtobufBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "protobuf",
        abstract: "ns per sample decoding remote_write: the hand decoder against swift-protobuf's generated code."
    )

    @Option(help: "Series in the request, one sample each (as Prometheus sends them).") var series = 2_000
    @Option(help: "Decodes of the request per run and way.") var rounds = 500
    @Option(help: "Runs; medians are reported.") var runs = 3

    func run() async throws {
        let start: Int64 = 1_764_470_000_000
        let keys = RemoteWriteBenchmark.keys(series)
        let body = RemoteWriteEncoder.writeRequest(keys.enumerated().map { index, key in
            RemoteWriteEncoder.Series([("__name__", key.metric)] + key.labels.map { ($0.name, $0.value) }, samples: [(start + Int64(index), Double(index) / 4)])
        })
        let parser = RemoteWriteParser(cache: SeriesKeyCache())
        let validator = SampleValidator()
        let expected = try Self.hand(body)
        guard try Self.generated(body) == expected, try parser.parse(body, now: start, maxSamples: .max, validator: validator).get().samples == expected else {
            throw BenchError("the decoders disagree")
        }
        print("protobuf: a \(body.count)-byte WriteRequest of \(series) series × 1 sample, \(rounds) decodes per run and way, \(runs) runs")
        var figures: [String: [Double]] = [:]
        for run in 1...runs {
            let hand = try measure { _ = try Self.hand(body) }
            let generated = try measure { _ = try Self.generated(body) }
            let endpoint = try measure { _ = try parser.parse(body, now: start, maxSamples: .max, validator: validator).get() }
            print("  run \(run): hand \(Measure.format(hand, 1)) ns/sample, swift-protobuf \(Measure.format(generated, 1)), endpoint's parse \(Measure.format(endpoint, 1)); swift-protobuf/hand \(Measure.format(generated / hand, 2))")
            figures["hand", default: []].append(hand)
            figures["generated", default: []].append(generated)
            figures["endpoint", default: []].append(endpoint)
            figures["ratio", default: []].append(generated / hand)
        }
        let median = { (name: String) in Measure.median(figures[name]!) }
        print("result: hand decoder \(Measure.format(median("hand"), 1)) ns/sample, swift-protobuf \(Measure.format(median("generated"), 1)) ns/sample (\(Measure.format(median("ratio"), 2))× the hand decoder); the endpoint's whole parse \(Measure.format(median("endpoint"), 1)) ns/sample; medians of \(runs)")
    }

    /// ns per sample of `rounds` decodes.
    private func measure(_ decode: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<rounds { try decode() }
        return (clock.now - started).seconds * 1e9 / Double(rounds * series)
    }

    /// The hand decoder, then each series' key built from its labels.
    static func hand(_ body: [UInt8]) throws -> [Sample] {
        let request = try body.withUnsafeBytes { try RemoteWriteRequest.decode($0, maxSamples: .max) }
        var samples: [Sample] = []
        samples.reserveCapacity(request.samples.count)
        for series in request.series {
            let key = key(series.labels.map { ($0.name, $0.value) })
            for raw in request.samples[series.samples] {
                samples.append(Sample(key: key, timestamp: raw.timestamp, value: raw.value))
            }
        }
        return samples
    }

    /// swift-protobuf's generated message, then the same keys.
    static func generated(_ body: [UInt8]) throws -> [Sample] {
        let request = try Prometheus_WriteRequest(serializedBytes: body)
        var samples: [Sample] = []
        for series in request.timeseries {
            let key = key(series.labels.map { ($0.name, $0.value) })
            for sample in series.samples {
                samples.append(Sample(key: key, timestamp: sample.timestamp, value: sample.value))
            }
        }
        return samples
    }

    private static func key(_ labels: [(String, String)]) -> SeriesKey {
        var metric = ""
        var rest: [Label] = []
        rest.reserveCapacity(labels.count)
        for (name, value) in labels {
            if name == "__name__" { metric = value } else { rest.append(Label(name, value)) }
        }
        return SeriesKey(metric: metric, labels: rest)
    }
}
