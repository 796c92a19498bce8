/// `text/plain`: the Prometheus text exposition format 0.0.4 (see `PrometheusText`).
public struct PrometheusTextParser: IngestParser {
    public init() {}
    public var mediaTypes: [String] { ["text/plain"] }
    public var name: String { "Prometheus text" }

    public func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        PrometheusText.samples(from: body, now: now, maxSamples: maxSamples, validator: validator)
            .map { ValidatedBatch(samples: $0, checkedAgainst: validator.limits) }
    }
}
