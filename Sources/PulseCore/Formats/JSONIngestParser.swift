/// `application/json`: `{"samples":[{"metric","labels","ts","value"}]}` (see `JSONIngest`).
public struct JSONIngestParser: IngestParser {
    public init() {}
    public var mediaTypes: [String] { ["application/json"] }
    public var name: String { "JSON" }

    public func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        JSONIngest.samples(from: body, now: now, maxSamples: maxSamples, validator: validator)
            .map { ValidatedBatch(samples: $0, checkedAgainst: validator.limits) }
    }
}
