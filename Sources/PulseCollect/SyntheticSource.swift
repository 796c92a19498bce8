import Foundation
import Logging
import PulseCore
import ServiceLifecycle

/// Publishes `series` synthetic series `rate` times a second through the pipeline,
/// stored and broadcast like any sample: for benchmarks and demos.
///
/// Metric `synthetic_value{series="0"…}`: slow sine waves, one phase per series.
public struct SyntheticSource: Service {
    public static let metric = "synthetic_value"

    public let series: Int
    public let rate: Double
    private let sink: any SampleSink
    private let logger: Logger

    public init(series: Int, rate: Double, sink: any SampleSink, logger: Logger = Logger(label: "pulsegate.synthetic")) {
        self.series = max(1, series)
        self.rate = max(0.001, rate)
        self.sink = sink
        self.logger = logger
    }

    public func run() async throws {
        let keys = (0..<series).map { SeriesKey(metric: Self.metric, labels: [Label("series", "\($0)")]) }
        let interval = Duration.seconds(1 / rate)
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var next = clock.now
            var tick = 0
            while !Task.isCancelled {
                let timestamp = Timestamp.now()
                let phase = Double(timestamp % 60_000) / 60_000 * 2 * .pi
                let samples = keys.enumerated().map { index, key in
                    Sample(key: key, timestamp: timestamp, value: (sin(phase + Double(index)) * 1000).rounded() / 1000)
                }
                do {
                    try await sink.accept(samples, from: .synthetic, durability: .buffered)
                } catch {
                    if tick % 1000 == 0 { logger.warning("synthetic samples not accepted", metadata: ["error": "\(error)"]) }
                }
                tick += 1
                next = next.advanced(by: interval)
                if next < clock.now { next = clock.now }
                do { try await Task.sleep(until: next, clock: clock) } catch { return }
            }
        }
    }
}
