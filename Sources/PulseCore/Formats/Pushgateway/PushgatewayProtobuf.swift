/// The protobuf delimited format, as Go's client_golang pushes by default
/// (`application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily;
/// encoding=delimited`): `MetricFamily` messages, each after its length as a
/// varint (metrics.proto of client_model, the fields a push uses):
///
///     message MetricFamily { string name = 1; string help = 2; MetricType type = 3; repeated Metric metric = 4; }
///     message Metric       { repeated LabelPair label = 1; Gauge gauge = 2; Counter counter = 3; Summary summary = 4;
///                            Untyped untyped = 5; Histogram histogram = 7; int64 timestamp_ms = 6; }
///     message LabelPair    { string name = 1; string value = 2; }
///     Gauge, Counter, Untyped { double value = 1; }
///     message Summary      { uint64 sample_count = 1; double sample_sum = 2; repeated Quantile quantile = 3; }
///     message Quantile     { double quantile = 1; double value = 2; }
///     message Histogram    { uint64 sample_count = 1; double sample_count_float = 4; double sample_sum = 2; repeated Bucket bucket = 3; }
///     message Bucket       { uint64 cumulative_count = 1; double cumulative_count_float = 4; double upper_bound = 2; }
///
/// Read into the same families as the text format (`PushgatewayText`), with
/// the same rules: no timestamps, the grouping key's labels, the group's own
/// names dropped. Exemplars, created timestamps and native histograms' own
/// fields are skipped; a gauge histogram, which the text format 0.0.4 cannot
/// expose, is refused. A problem's index is its family's place in the body (1-based).
public enum PushgatewayProtobuf {
    /// The media type, without its parameters.
    public static let mediaType = "application/vnd.google.protobuf"

    public static func read(
        _ body: some Collection<UInt8>, group: GroupingKey, now: Int64, maxSamples: Int, validator: SampleValidator
    ) -> Result<PushgatewayText.Push, IngestRejection> {
        let decoded: Decoded
        do {
            decoded = try Array(body).withUnsafeBytes { try decode($0, group: group, maxSamples: maxSamples) }
        } catch {
            return .failure(IngestRejection(.malformed, "the body is not delimited MetricFamily messages: \(error)"))
        }
        guard decoded.samples <= maxSamples else {
            return .failure(IngestRejection(.tooManySamples, "more than \(maxSamples) samples in one request: split the request"))
        }
        guard decoded.problems.isEmpty else {
            return .failure(IngestRejection(.invalidSamples, "\(Set(decoded.problems.compactMap(\.index)).count) metric families are invalid; nothing was stored", problems: decoded.problems))
        }
        let names = decoded.families.keys.sorted().filter { !PushgatewayText.groupOwnNames.contains($0) }
        return PushgatewayText.push(
            of: names.map { decoded.families[$0]!.family }, origins: names.map { decoded.families[$0]!.origins },
            now: now, validator: validator, unit: "metric families"
        )
    }

    /// Every family, until the end or until there are more than `maxSamples` values.
    private static func decode(_ bytes: UnsafeRawBufferPointer, group: GroupingKey, maxSamples: Int) throws(ProtobufError) -> Decoded {
        var decoded = Decoded()
        var reader = ProtobufReader(bytes)
        while !reader.isAtEnd, decoded.samples <= maxSamples {
            decoded.index += 1
            do {
                try decoded.family(try reader.lengthDelimited(), group: group)
            } catch {
                throw ProtobufError("family \(decoded.index): \(error)")
            }
        }
        return decoded
    }
}

/// What the messages held so far, and what is wrong with them.
private struct Decoded {
    var families: [String: (family: PushedFamily, origins: [Int])] = [:]
    var problems: [IngestProblem] = []
    /// The family being read, 1-based.
    var index = 0
    /// Values read: a summary's quantiles and a histogram's buckets count one each.
    var samples = 0

    private mutating func problem(_ field: String, _ reason: String) {
        problems.append(IngestProblem(index: index, field: field, reason: reason))
    }

    mutating func family(_ bytes: UnsafeRawBufferPointer, group: GroupingKey) throws(ProtobufError) {
        var reader = ProtobufReader(bytes)
        var name = ""
        var help: String?
        var typeNumber: UInt64 = 0  // proto3's default: COUNTER
        var metrics: [UnsafeRawBufferPointer] = []
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "MetricFamily.name")
                name = try reader.string("MetricFamily.name")
            case 2:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "MetricFamily.help")
                help = try reader.string("MetricFamily.help")
            case 3:
                try ProtobufReader.expect(wireType, .varint, field: "MetricFamily.type")
                typeNumber = try reader.varint()
            case 4:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "MetricFamily.metric")
                metrics.append(try reader.lengthDelimited())
            default:
                try reader.skip(wireType)
            }
        }
        let types: [UInt64: MetricType] = [0: .counter, 1: .gauge, 2: .summary, 3: .unknown, 4: .histogram]
        if let reason = SampleValidator.metricNameProblem(name) { return problem("name", reason) }
        guard let type = types[typeNumber] else {
            return problem("type", "type \(typeNumber) of \(name) cannot be exposed in the text format 0.0.4: push a counter, gauge, summary, histogram or untyped family")
        }
        guard families[name] == nil else { return problem("name", "\(name) comes twice in one push") }
        var family = PushedFamily(name: name, type: type, help: help)
        var origins: [Int] = []
        var seen: Set<[Label]> = []
        for bytes in metrics {
            guard let metric = try metric(bytes, of: family, group: group) else { continue }
            guard seen.insert(metric.labels).inserted else {
                problem("metric", "\(name)\(LabelText.encode(metric.labels)) was pushed before with the same name and label values")
                continue
            }
            family.metrics.append(metric)
            origins.append(index)
        }
        if !family.metrics.isEmpty { families[name] = (family, origins) }
    }

    /// One metric of `family`, or nil after noting why it cannot be one.
    private mutating func metric(_ bytes: UnsafeRawBufferPointer, of family: PushedFamily, group: GroupingKey) throws(ProtobufError) -> PushedMetric? {
        var reader = ProtobufReader(bytes)
        var labels: [Label] = []
        var value: PushedMetric.Value?
        var timestamped = false
        while let (number, wireType) = try reader.nextField() {
            switch (number, family.type) {
            case (1, _):
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Metric.label")
                labels.append(try ProtobufReader.label(in: try reader.lengthDelimited(), of: "a metric of \(family.name)"))
            case (2, .gauge), (3, .counter), (5, .unknown):
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Metric's value")
                value = .single(try Self.single(try reader.lengthDelimited()))
            case (4, .summary):
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Metric.summary")
                value = try Self.summary(try reader.lengthDelimited())
            case (7, .histogram):
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Metric.histogram")
                value = try Self.histogram(try reader.lengthDelimited())
            case (2...5, _), (7, _):
                problem("metric", "a metric of \(family.name) has a value of another type than its family's \(family.type.textFormatName)")
                return nil
            case (6, _):
                _ = try reader.varint()
                timestamped = true
            default:
                try reader.skip(wireType)
            }
        }
        if timestamped { problem("timestamp_ms", "pushed metrics must not have timestamps (the push's time is theirs)") }
        var names: Set<String> = []
        for label in labels where !names.insert(label.name).inserted {
            problem("labels.\(SampleValidator.printable(label.name, limit: 64))", "label name appears more than once")
            return nil
        }
        guard let value, !timestamped else {
            if !timestamped { problem("metric", "a metric of \(family.name) has no \(family.type.textFormatName) value") }
            return nil
        }
        switch value {
        case .single: samples += 1
        case let .summary(quantiles, _, _): samples += quantiles.count + 2
        case let .histogram(buckets, _, _): samples += buckets.count + 3
        }
        return PushedMetric(labels: group.exposing(labels), value: value)
    }

    /// A double in field `number` of a message (a gauge's, a quantile's, a bucket's).
    private static func double(_ reader: inout ProtobufReader, _ wireType: ProtobufReader.WireType, _ field: String) throws(ProtobufError) -> Double {
        try ProtobufReader.expect(wireType, .fixed64, field: field)
        return Double(bitPattern: try reader.fixed64())
    }

    private static func single(_ bytes: UnsafeRawBufferPointer) throws(ProtobufError) -> Double {
        var reader = ProtobufReader(bytes)
        var value = 0.0
        while let (number, wireType) = try reader.nextField() {
            if number == 1 { value = try double(&reader, wireType, "a value") } else { try reader.skip(wireType) }
        }
        return value
    }

    private static func summary(_ bytes: UnsafeRawBufferPointer) throws(ProtobufError) -> PushedMetric.Value {
        var reader = ProtobufReader(bytes)
        var count = 0.0, sum = 0.0
        var quantiles: [PushedMetric.Bound] = []
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .varint, field: "Summary.sample_count")
                count = Double(try reader.varint())
            case 2: sum = try double(&reader, wireType, "Summary.sample_sum")
            case 3:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Summary.quantile")
                var quantile = ProtobufReader(try reader.lengthDelimited())
                var bound = PushedMetric.Bound(0, 0)
                while let (number, wireType) = try quantile.nextField() {
                    switch number {
                    case 1: bound.bound = try double(&quantile, wireType, "Quantile.quantile")
                    case 2: bound.value = try double(&quantile, wireType, "Quantile.value")
                    default: try quantile.skip(wireType)
                    }
                }
                quantiles.append(bound)
            default: try reader.skip(wireType)
            }
        }
        return .summary(quantiles: quantiles, sum: sum, count: count)
    }

    private static func histogram(_ bytes: UnsafeRawBufferPointer) throws(ProtobufError) -> PushedMetric.Value {
        var reader = ProtobufReader(bytes)
        var count = 0.0, sum = 0.0
        var buckets: [PushedMetric.Bound] = []
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .varint, field: "Histogram.sample_count")
                count = Double(try reader.varint())
            case 4: count = try double(&reader, wireType, "Histogram.sample_count_float").rounded(.towardZero)
            case 2: sum = try double(&reader, wireType, "Histogram.sample_sum")
            case 3:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "Histogram.bucket")
                var bucket = ProtobufReader(try reader.lengthDelimited())
                var bound = PushedMetric.Bound(0, 0)
                while let (number, wireType) = try bucket.nextField() {
                    switch number {
                    case 1:
                        try ProtobufReader.expect(wireType, .varint, field: "Bucket.cumulative_count")
                        bound.value = Double(try bucket.varint())
                    case 4: bound.value = try double(&bucket, wireType, "Bucket.cumulative_count_float").rounded(.towardZero)
                    case 2: bound.bound = try double(&bucket, wireType, "Bucket.upper_bound")
                    default: try bucket.skip(wireType)
                    }
                }
                buckets.append(bound)
            default: try reader.skip(wireType)
            }
        }
        return .histogram(buckets: buckets, sum: sum, count: count)
    }
}
