/// Writes client_model's `MetricFamily` messages, length-delimited, as Go's
/// client_golang pushes them to a Pushgateway: the test side of
/// `PushgatewayProtobuf`, written from metrics.proto apart from the decoder.
public enum MetricFamilyEncoder {
    public typealias Encoder = RemoteWriteEncoder

    /// One metric: its labels and its value message's field number and bytes.
    public struct Metric: Sendable {
        var labels: [(String, String)]
        var value: (field: UInt64, bytes: [UInt8])?
        var timestampMs: Int64?

        public static func gauge(_ value: Double, labels: [(String, String)] = [], timestampMs: Int64? = nil) -> Metric {
            Metric(labels: labels, value: (2, Encoder.field(1, fixed64: value.bitPattern)), timestampMs: timestampMs)
        }

        public static func counter(_ value: Double, labels: [(String, String)] = []) -> Metric {
            Metric(labels: labels, value: (3, Encoder.field(1, fixed64: value.bitPattern)))
        }

        public static func untyped(_ value: Double, labels: [(String, String)] = []) -> Metric {
            Metric(labels: labels, value: (5, Encoder.field(1, fixed64: value.bitPattern)))
        }

        public static func summary(labels: [(String, String)] = [], count: UInt64, sum: Double, quantiles: [(Double, Double)]) -> Metric {
            var bytes = Encoder.field(1, varint: count) + Encoder.field(2, fixed64: sum.bitPattern)
            for (quantile, value) in quantiles {
                bytes += Encoder.field(3, bytes: Encoder.field(1, fixed64: quantile.bitPattern) + Encoder.field(2, fixed64: value.bitPattern))
            }
            return Metric(labels: labels, value: (4, bytes))
        }

        public static func histogram(labels: [(String, String)] = [], count: UInt64, sum: Double, buckets: [(Double, UInt64)]) -> Metric {
            var bytes = Encoder.field(1, varint: count) + Encoder.field(2, fixed64: sum.bitPattern)
            for (bound, cumulative) in buckets {
                bytes += Encoder.field(3, bytes: Encoder.field(1, varint: cumulative) + Encoder.field(2, fixed64: bound.bitPattern))
            }
            return Metric(labels: labels, value: (7, bytes))
        }

        /// A metric without a value.
        public static func empty(labels: [(String, String)] = []) -> Metric {
            Metric(labels: labels, value: nil)
        }
    }

    /// client_model's MetricType numbers.
    public enum MetricType: UInt64, Sendable {
        case counter = 0, gauge, summary, untyped, histogram, gaugeHistogram
    }

    public static func family(_ name: String, help: String? = nil, type: MetricType, _ metrics: [Metric]) -> [UInt8] {
        var message = Encoder.field(1, string: name)
        if let help { message += Encoder.field(2, string: help) }
        message += Encoder.field(3, varint: type.rawValue)
        for metric in metrics {
            var bytes: [UInt8] = []
            for (name, value) in metric.labels { bytes += Encoder.field(1, bytes: Encoder.field(1, string: name) + Encoder.field(2, string: value)) }
            if let value = metric.value { bytes += Encoder.field(value.field, bytes: value.bytes) }
            if let timestamp = metric.timestampMs { bytes += Encoder.field(6, varint: UInt64(bitPattern: timestamp)) }
            message += Encoder.field(4, bytes: bytes)
        }
        return Encoder.varint(UInt64(message.count)) + message
    }
}
