/// Where samples come from; counted and reported per source.
public enum SampleSource: String, Sendable, CaseIterable {
    case collector
    case ingest
    case synthetic
}

/// How long a writer of samples waits.
public enum Durability: Sendable {
    /// Return once the samples are queued for the next batch: a crash may lose
    /// at most one batch age of them (the collector's contract).
    case buffered
    /// Return once the samples are committed to disk (the ingest contract:
    /// a 2xx means durable). Concurrent callers share one commit.
    case committed
}

/// Anything that takes samples in: the pipeline, for the collector and the HTTP layer.
public protocol SampleSink: Sendable {
    func accept(_ samples: [Sample], from source: SampleSource, durability: Durability) async throws
}

/// The storage side of the pipeline: the store's writer, or a second store later.
public protocol SampleWriter: Sendable {
    func write(_ samples: [Sample], durability: Durability) async throws
}

/// The broadcast side of the pipeline: the live hub, the latest-value exposition,
/// a cross-instance bus later. Called after the samples were written.
public protocol SamplePublisher: Sendable {
    func publish(_ samples: [Sample], from source: SampleSource)
}
