/// A metric family as a Pushgateway push says it: name, type, help, and its
/// metrics. A push group keeps these and exposes them at `/metrics` as
/// Pushgateway does (`PushGroups`); the samples the store gets are made from
/// them (`PushgatewayTextParser`).
public struct PushedFamily: Sendable, Equatable {
    public var name: String
    public var type: MetricType
    /// nil when the push had no `# HELP` line (then none is exposed).
    public var help: String?
    /// In the order the push gave them.
    public var metrics: [PushedMetric]

    public init(name: String, type: MetricType, help: String? = nil, metrics: [PushedMetric] = []) {
        self.name = name
        self.type = type
        self.help = help
        self.metrics = metrics
    }
}

/// One metric of a family: its labels and what it measures. A summary's or
/// histogram's lines (`quantile`/`le`, `_sum`, `_count`) with the same other
/// labels are one metric, as in Prometheus's data model.
public struct PushedMetric: Sendable, Equatable {
    /// Sorted by name; without `quantile` or `le`, which belong to the value.
    public var labels: [Label]
    public var value: Value

    public enum Value: Sendable, Equatable {
        /// A counter's, a gauge's or an untyped metric's value.
        case single(Double)
        case summary(quantiles: [Bound], sum: Double, count: Double)
        case histogram(buckets: [Bound], sum: Double, count: Double)
    }

    /// A quantile and its value, or a bucket's upper bound and its cumulative count.
    public struct Bound: Sendable, Equatable {
        public var bound: Double
        public var value: Double

        public init(_ bound: Double, _ value: Double) {
            self.bound = bound
            self.value = value
        }
    }

    public init(labels: [Label], value: Value) {
        self.labels = labels
        self.value = value
    }
}
