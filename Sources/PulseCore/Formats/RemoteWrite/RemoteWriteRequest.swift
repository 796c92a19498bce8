/// Prometheus remote_write 1.0's `WriteRequest`, decoded by hand from its
/// protobuf bytes (prompb's remote.proto and types.proto, the fields 1.0 uses):
///
///     message WriteRequest   { repeated TimeSeries timeseries = 1; repeated MetricMetadata metadata = 3; }
///     message TimeSeries     { repeated Label labels = 1; repeated Sample samples = 2;
///                              repeated Exemplar exemplars = 3; repeated Histogram histograms = 4; }
///     message Label          { string name = 1; string value = 2; }
///     message Sample         { double value = 1; int64 timestamp = 2; }
///     message MetricMetadata { MetricType type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
///
/// By hand rather than with generated code because a request becomes samples
/// directly: one flat array of values for the whole request, no message object
/// per series or per sample (swift-protobuf's generated decoder took 1.84× the
/// time on the same request: `pulsegate-bench protobuf`). Unknown fields are skipped, as proto3 requires;
/// exemplars are skipped; native histograms are only counted. Values keep their
/// exact bits, so that a staleness marker can be told from any other NaN.
public struct RemoteWriteRequest: Sendable {
    public struct Series: Sendable {
        /// As sent: `__name__` among them, in the sender's order. Empty when `key` is known.
        public var labels: [Label] = []
        /// The series' key, when the cache knew its label bytes: checked when it was cached.
        public var key: SeriesKey?
        /// The label bytes as sent, when the cache did not know them: to cache the key once it is checked.
        var labelBytes: [UInt8]?
        /// This series' samples, in `RemoteWriteRequest.samples`.
        public var samples: Range<Int>
        /// Native histogram samples sent for it (not stored).
        public var histograms = 0
    }

    public struct RawSample: Sendable {
        /// Milliseconds since the Unix epoch.
        public var timestamp: Int64
        public var value: Double
    }

    public var series: [Series] = []
    public var samples: [RawSample] = []
    public var metadata: [MetricMetadata] = []
    /// Native histogram samples, all series together.
    public private(set) var histogramCount = 0

    /// Prometheus's staleness marker: a NaN with this exact bit pattern (its `value.StaleNaN`).
    public static let staleMarkerBits: UInt64 = 0x7ff0_0000_0000_0002

    /// Decodes a whole request, refusing one with more than `maxSamples` samples
    /// (histograms included) before it has read them all.
    ///
    /// With a `cache`, a series whose label bytes it knows gets its key from it
    /// without decoding them (a Prometheus sends the same label sets request after request).
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxSamples: Int, cache: SeriesKeyCache? = nil) throws(IngestRejection) -> RemoteWriteRequest {
        var request = RemoteWriteRequest()
        var reader = ProtobufReader(bytes)
        do {
            while let (number, wireType) = try reader.nextField() {
                switch number {
                case 1:
                    try ProtobufReader.expect(wireType, .lengthDelimited, field: "WriteRequest.timeseries")
                    try request.readSeries(try reader.lengthDelimited(), index: request.series.count, cache: cache)
                    if request.samples.count + request.histogramCount > maxSamples {
                        throw IngestRejection(.tooManySamples, "more than \(maxSamples) samples in one request: lower the sender's max_samples_per_send")
                    }
                case 3:
                    try ProtobufReader.expect(wireType, .lengthDelimited, field: "WriteRequest.metadata")
                    var metadata = ProtobufReader(try reader.lengthDelimited())
                    request.metadata.append(try readMetadata(&metadata))
                default:
                    try reader.skip(wireType)
                }
            }
        } catch let error as IngestRejection {
            throw error
        } catch let error as ProtobufError {
            throw IngestRejection(.malformed, "the body is not a remote_write WriteRequest: \(error)")
        } catch {
            throw IngestRejection(.malformed, "the body is not a remote_write WriteRequest: \(error)")
        }
        return request
    }

    private mutating func readSeries(_ message: UnsafeRawBufferPointer, index: Int, cache: SeriesKeyCache?) throws {
        let first = samples.count
        var series = Series(samples: first..<first)
        var reader = ProtobufReader(message)
        // The labels' bytes, decoded after the message (unless the cache knows them):
        // one run of fields, as every sender writes them, or else scattered.
        var labelRun: Range<Int>?
        var scattered = false
        while true {
            let fieldStart = reader.offset
            guard let (number, wireType) = try reader.nextField() else { break }
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "timeseries[\(index)].labels")
                _ = try reader.lengthDelimited()
                if let run = labelRun, run.upperBound != fieldStart { scattered = true }
                labelRun = (labelRun?.lowerBound ?? fieldStart)..<reader.offset
            case 2:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "timeseries[\(index)].samples")
                var sample = ProtobufReader(try reader.lengthDelimited())
                samples.append(try Self.readSample(&sample, series: index))
            case 4:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "timeseries[\(index)].histograms")
                _ = try reader.lengthDelimited()
                series.histograms += 1
                histogramCount += 1
            default:
                try reader.skip(wireType)  // exemplars (3), and fields of later versions
            }
        }
        series.samples = first..<samples.count
        if let run = labelRun {
            let labelBytes = scattered ? message : reader.bytes(in: run)
            if !scattered, let cache, let key = cache.key(for: labelBytes) {
                series.key = key
            } else {
                var labels = ProtobufReader(labelBytes)
                while let (number, wireType) = try labels.nextField() {
                    guard number == 1 else { try labels.skip(wireType); continue }
                    series.labels.append(try ProtobufReader.label(in: try labels.lengthDelimited(), of: "timeseries[\(index)]"))
                }
                if !scattered, cache != nil { series.labelBytes = Array(labelBytes) }
            }
        }
        self.series.append(series)
    }

    private static func readSample(_ reader: inout ProtobufReader, series: Int) throws -> RawSample {
        var sample = RawSample(timestamp: 0, value: 0)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .fixed64, field: "timeseries[\(series)] sample value")
                sample.value = Double(bitPattern: try reader.fixed64())
            case 2:
                try ProtobufReader.expect(wireType, .varint, field: "timeseries[\(series)] sample timestamp")
                sample.timestamp = Int64(bitPattern: try reader.varint())
            default:
                try reader.skip(wireType)
            }
        }
        return sample
    }

    private static func readMetadata(_ reader: inout ProtobufReader) throws -> MetricMetadata {
        var metadata = MetricMetadata(family: "", type: .unknown)
        while let (number, wireType) = try reader.nextField() {
            switch number {
            case 1:
                try ProtobufReader.expect(wireType, .varint, field: "metadata type")
                metadata.type = MetricType(protobufValue: try reader.varint())
            case 2:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "metadata metric_family_name")
                metadata.family = try reader.string("a metadata's metric_family_name")
            case 4:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "metadata help")
                metadata.help = try reader.string("a metadata's help")
            case 5:
                try ProtobufReader.expect(wireType, .lengthDelimited, field: "metadata unit")
                metadata.unit = try reader.string("a metadata's unit")
            default:
                try reader.skip(wireType)
            }
        }
        return metadata
    }
}

extension MetricType {
    /// prompb's `MetricMetadata.MetricType`; a value it does not define is `unknown`.
    init(protobufValue: UInt64) {
        let types: [MetricType] = [.unknown, .counter, .gauge, .histogram, .gaugeHistogram, .summary, .info, .stateSet]
        self = protobufValue < UInt64(types.count) ? types[Int(protobufValue)] : .unknown
    }
}
