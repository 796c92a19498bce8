/// The protobuf delimited format pushed to a Pushgateway group
/// (`PushgatewayProtobuf`), as `PushgatewayTextParser` reads the text format.
public struct PushgatewayProtobufParser: IngestParser {
    public let group: GroupingKey

    public init(group: GroupingKey) {
        self.group = group
    }

    public var mediaTypes: [String] { [PushgatewayProtobuf.mediaType] }
    public var name: String { "protobuf delimited MetricFamily" }

    public func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        PushgatewayProtobuf.read(body, group: group, now: now, maxSamples: maxSamples, validator: validator).map { $0.batch(checkedAgainst: validator.limits) }
    }
}
