/// A metric name, or a prefix followed by `*` (`host_cpu_*`; `*` alone is every metric).
public struct MetricPattern: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let text: String
    private let prefix: Substring
    private let isGlob: Bool

    /// Nil, with a reason, when `text` is neither a valid metric name nor a valid prefix with one trailing `*`.
    public static func parse(_ text: String) -> Result<MetricPattern, SampleProblem> {
        let isGlob = text.hasSuffix("*")
        let prefix = isGlob ? text.dropLast() : Substring(text)
        if isGlob, prefix.isEmpty { return .success(MetricPattern(text: text, prefix: prefix, isGlob: true)) }
        if prefix.utf8.count > SampleLimits.default.maxMetricNameLength || !SampleValidator.isValidName(String(prefix), allowColon: true) {
            return .failure(SampleProblem(
                field: "metric",
                reason: "\"\(SampleValidator.printable(text, limit: 64))\" is neither a metric name nor a prefix followed by one trailing *"
            ))
        }
        return .success(MetricPattern(text: text, prefix: prefix, isGlob: isGlob))
    }

    private init(text: String, prefix: Substring, isGlob: Bool) {
        self.text = text
        self.prefix = prefix
        self.isGlob = isGlob
    }

    public func matches(_ metric: String) -> Bool {
        isGlob ? metric.hasPrefix(prefix) : metric == text
    }

    public var description: String { text }

    public static func < (lhs: MetricPattern, rhs: MetricPattern) -> Bool { lhs.text < rhs.text }
}

/// Which metrics a live subscriber receives: any of its patterns; no pattern means every metric.
///
/// Equal filters are one filter: the hub encodes each published batch once per
/// distinct filter, so patterns are kept sorted and without repeats.
public struct SubscriptionFilter: Hashable, Sendable {
    public let patterns: [MetricPattern]

    public static let everything = SubscriptionFilter(patterns: [])
    public static let maxPatterns = 64

    public init(patterns: [MetricPattern]) {
        self.patterns = Array(Set(patterns)).sorted()
    }

    /// Parses pattern texts; every bad one is reported.
    public static func parse(_ texts: [String]) -> Result<SubscriptionFilter, RejectedPatterns> {
        guard texts.count <= maxPatterns else {
            return .failure(RejectedPatterns(problems: [SampleProblem(field: "metric", reason: "at most \(maxPatterns) metric patterns, got \(texts.count)")]))
        }
        var patterns: [MetricPattern] = []
        var problems: [SampleProblem] = []
        for text in texts {
            switch MetricPattern.parse(text) {
            case let .success(pattern): patterns.append(pattern)
            case let .failure(problem): problems.append(problem)
            }
        }
        return problems.isEmpty ? .success(SubscriptionFilter(patterns: patterns)) : .failure(RejectedPatterns(problems: problems))
    }

    public func matches(_ metric: String) -> Bool {
        patterns.isEmpty || patterns.contains { $0.matches(metric) }
    }

    public var texts: [String] { patterns.map(\.text) }
}

/// Metric patterns that could not be parsed, each with its reason.
public struct RejectedPatterns: Error, Sendable, CustomStringConvertible {
    public var problems: [SampleProblem]
    public var description: String { problems.map(\.reason).joined(separator: "; ") }
}
