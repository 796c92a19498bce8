/// Builds remote_write 1.0 `WriteRequest` bytes for tests and benchmarks: an
/// encoder written apart from the product's decoder, from the same .proto
/// (prompb's remote.proto and types.proto), and the wire-format pieces for
/// hand-made hostile messages.
public enum RemoteWriteEncoder {
    public struct Series: Sendable {
        public var labels: [(name: String, value: String)]
        public var samples: [(timestamp: Int64, value: Double)]
        /// Native histogram samples, sent as empty `Histogram` messages.
        public var histograms: Int

        public init(_ labels: [(String, String)], samples: [(Int64, Double)], histograms: Int = 0) {
            self.labels = labels.map { (name: $0.0, value: $0.1) }
            self.samples = samples.map { (timestamp: $0.0, value: $0.1) }
            self.histograms = histograms
        }
    }

    public struct Metadata: Sendable {
        /// prompb's MetricType number: 1 counter, 2 gauge, 3 histogram, 5 summary…
        public var type: UInt64
        public var family: String
        public var help: String
        public var unit: String

        public init(type: UInt64, family: String, help: String = "", unit: String = "") {
            self.type = type
            self.family = family
            self.help = help
            self.unit = unit
        }
    }

    public static func writeRequest(_ series: [Series], metadata: [Metadata] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        for entry in series { bytes += field(1, bytes: timeSeries(entry)) }
        for entry in metadata {
            var message = field(1, varint: entry.type) + field(2, string: entry.family)
            if !entry.help.isEmpty { message += field(4, string: entry.help) }
            if !entry.unit.isEmpty { message += field(5, string: entry.unit) }
            bytes += field(3, bytes: message)
        }
        return bytes
    }

    public static func timeSeries(_ series: Series) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in series.labels { bytes += field(1, bytes: field(1, string: label.name) + field(2, string: label.value)) }
        for sample in series.samples {
            bytes += field(2, bytes: field(1, fixed64: sample.value.bitPattern) + field(2, varint: UInt64(bitPattern: sample.timestamp)))
        }
        for _ in 0..<series.histograms { bytes += field(4, bytes: field(1, varint: 3)) }  // count_int = 3
        return bytes
    }

    // MARK: The wire format

    public static func varint(_ value: UInt64) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7f) | 0x80)
            value >>= 7
        }
        return bytes + [UInt8(value)]
    }

    public static func tag(_ number: UInt64, wireType: UInt64) -> [UInt8] {
        varint(number << 3 | wireType)
    }

    public static func field(_ number: UInt64, bytes: [UInt8]) -> [UInt8] {
        tag(number, wireType: 2) + varint(UInt64(bytes.count)) + bytes
    }

    public static func field(_ number: UInt64, string: String) -> [UInt8] {
        field(number, bytes: Array(string.utf8))
    }

    public static func field(_ number: UInt64, varint value: UInt64) -> [UInt8] {
        tag(number, wireType: 0) + varint(value)
    }

    public static func field(_ number: UInt64, fixed64 value: UInt64) -> [UInt8] {
        tag(number, wireType: 1) + (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}
