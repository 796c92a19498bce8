/// Where samples come from; counted and reported per source.
public enum SampleSource: String, Sendable, CaseIterable {
    case collector
    case ingest
    /// Prometheus remote_write (`POST /api/v1/write`).
    case remoteWrite = "remote_write"
    /// The Pushgateway API (`PUT`/`POST /metrics/job/…`).
    case pushgateway
    case synthetic

    /// The gateway's own readings (its host and process figures, some under
    /// `pulsegate_` names), as opposed to samples that clients push or a demo makes.
    public var isGatewayOwn: Bool { self == .collector }
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

/// The broadcast side of the pipeline: the live hub, the latest-value exposition,
/// a cross-instance bus later. Called after the samples were written.
public protocol SamplePublisher: Sendable {
    func publish(_ samples: [Sample], from source: SampleSource)
    /// Series a sender ended (staleness markers), after the batch's samples were published.
    func end(_ series: [SeriesEnd])
    /// What a sender said about metric families.
    func describe(_ metadata: [MetricMetadata])
}

extension SamplePublisher {
    /// Most publishers carry samples only.
    public func end(_ series: [SeriesEnd]) {}
    public func describe(_ metadata: [MetricMetadata]) {}
}

/// Why samples were refused, as counted by source.
public enum SampleRejection: String, Sendable, CaseIterable {
    /// A sample broke a validation rule.
    case invalid
    /// The store refused the batch (queue full, closed, write failed).
    case storeUnavailable = "store_unavailable"
    /// A push would have created more new series than one request may.
    case tooManyNewSeries = "too_many_new_series"
    /// A push would have taken the store past its series limit.
    case seriesLimit = "series_limit"
    /// A push used a name of the gateway's own metrics.
    case reservedName = "reserved_name"
}

/// Counts what passes through the pipeline, by source: the gateway's
/// self-instrumentation implements it (PulseCore itself counts nothing).
public protocol PipelineObserver: Sendable {
    func accepted(_ count: Int, from source: SampleSource)
    func rejected(_ count: Int, from source: SampleSource, because reason: SampleRejection)
}
