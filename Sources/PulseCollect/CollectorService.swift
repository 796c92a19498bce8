import Logging
import Metrics
import NIOPosix
import PulseCore
import ServiceLifecycle

/// Runs the host collector every `interval` and hands its samples to the pipeline.
///
/// Reading `/proc` is file I/O, so it happens on NIO's blocking thread pool.
/// The samples are written `.buffered`: a crash loses at most one batch age of
/// them, a graceful stop loses none (the store commits what is queued).
public struct CollectorService: Service {
    public let interval: Duration
    private let sink: any SampleSink
    private let procRoot: String
    private let logger: Logger
    private let metrics: any MetricsFactory
    /// Added to every sample (a cluster node's `node` label, so that nodes' host figures never collide).
    private let labels: [String: String]

    public init(
        interval: Duration = .seconds(1), sink: any SampleSink, procRoot: String = "/proc", labels: [String: String] = [:],
        logger: Logger = Logger(label: "pulsegate.collector"), metrics: any MetricsFactory = MetricsSystem.factory
    ) {
        self.interval = interval
        self.labels = labels
        self.sink = sink
        self.procRoot = procRoot
        self.logger = logger
        self.metrics = metrics
    }

    public func run() async throws {
        let box = CollectorBox(HostCollector(procRoot: procRoot, logger: logger, metrics: metrics))
        await cancelWhenGracefulShutdown {
            let clock = ContinuousClock()
            var next = clock.now
            while !Task.isCancelled {
                do {
                    let labels = self.labels
                    let samples = try await NIOThreadPool.singleton.runIfActive {
                        let samples = box.collector.collect(at: Timestamp.now())
                        return labels.isEmpty ? samples : samples.map { $0.adding(labels) }
                    }
                    try await sink.accept(samples, from: .collector, durability: .buffered)
                } catch is CancellationError {
                    return
                } catch {
                    // A full queue or a rejected batch costs one reading, never the collector.
                    logger.warning("collector samples not accepted", metadata: ["error": "\(error)"])
                }
                // Fixed ticks: a slow reading does not shift every later one.
                next = next.advanced(by: interval)
                if next < clock.now { next = clock.now }
                do { try await Task.sleep(until: next, clock: clock) } catch { return }
            }
        }
    }
}

/// Holds the collector's state between readings. Only the service's own loop
/// touches it, one reading at a time, which is why it need not be locked.
private final class CollectorBox: @unchecked Sendable {
    var collector: HostCollector
    init(_ collector: HostCollector) { self.collector = collector }
}
