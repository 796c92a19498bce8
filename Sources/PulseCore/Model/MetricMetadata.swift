/// What a sender says about a metric family besides its samples: its type,
/// help text and unit (remote_write's `MetricMetadata`, a text format's
/// `# TYPE` and `# HELP`). `/metrics` exposes a family with its type and help
/// when it has them, and as `untyped` when not.
public struct MetricMetadata: Hashable, Sendable {
    /// The family's name: a counter's full name, a histogram's or summary's base name.
    public var family: String
    public var type: MetricType
    public var help: String
    public var unit: String

    public init(family: String, type: MetricType, help: String = "", unit: String = "") {
        self.family = family
        self.type = type
        self.help = help
        self.unit = unit
    }
}

/// A metric family's type, as Prometheus and OpenMetrics name them.
public enum MetricType: String, Hashable, Sendable, CaseIterable {
    case unknown
    case counter
    case gauge
    case histogram
    case gaugeHistogram = "gaugehistogram"
    case summary
    case info
    case stateSet = "stateset"

    /// The `# TYPE` word of the text format 0.0.4, which knows only five:
    /// the OpenMetrics-only types are exposed as `untyped`, as Prometheus's
    /// own text encoder does.
    public var textFormatName: String {
        switch self {
        case .counter: "counter"
        case .gauge: "gauge"
        case .histogram: "histogram"
        case .summary: "summary"
        case .unknown, .gaugeHistogram, .info, .stateSet: "untyped"
        }
    }

    /// The suffixes of the series a family of this type is made of, besides its own name.
    public var seriesSuffixes: [String] {
        switch self {
        case .histogram, .gaugeHistogram: ["_bucket", "_sum", "_count"]
        case .summary: ["_sum", "_count"]
        default: []
        }
    }
}
