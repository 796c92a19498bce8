/// A push format: reads a request body into a validated batch, or says why
/// not, naming every problem. The ingest endpoint picks one by the request's
/// media type (`IngestParsers`); a new format is a new conformance.
public protocol IngestParser: Sendable {
    /// The media types it reads, lowercase, without parameters (`text/plain`).
    var mediaTypes: [String] { get }

    /// A short name for errors and docs: "JSON", "Prometheus text".
    var name: String { get }

    /// The samples of `body`, each checked by `validator` as it is read; samples
    /// without a timestamp get `now`. More than `maxSamples` refuses the whole body.
    func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection>

    /// Whether the format's senders drop a whole batch that gets a 4xx, its valid
    /// samples with it (remote_write): then the pipeline's rules that one series
    /// alone breaks (a reserved name) skip that series and count it, rather than
    /// refuse the request. Most formats' clients can fix a request and send it again.
    var skipsWhatOneSeriesBreaks: Bool { get }
}

extension IngestParser {
    /// Most formats refuse.
    public var skipsWhatOneSeriesBreaks: Bool { false }
}
