/// `text/plain` pushed to a Pushgateway group (`PushgatewayText`): the samples
/// for the store and the live stream, and the families the group exposes.
/// One per push, because the grouping key is part of every metric's labels.
public struct PushgatewayTextParser: IngestParser {
    public let group: GroupingKey

    public init(group: GroupingKey) {
        self.group = group
    }

    public var mediaTypes: [String] { ["text/plain"] }
    public var name: String { "Prometheus text" }

    public func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        PushgatewayText.read(body, group: group, now: now, maxSamples: maxSamples, validator: validator).map { $0.batch(checkedAgainst: validator.limits) }
    }
}
