/// Checks samples against Prometheus's naming rules and the configured limits.
///
/// - Metric names: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
/// - Label names: `[a-zA-Z_][a-zA-Z0-9_]*`; names starting with `__` are
///   reserved for Prometheus's own use; each name at most once.
/// - Label values: any Unicode text, bounded in length; empty values are
///   refused because Prometheus treats an empty label as an absent one, so
///   `{a=""}` and `{}` would be two series here and one there.
/// - Values: finite (SQLite stores NaN as NULL, and JSON cannot carry it).
/// - Timestamps: between the epoch and the year 9999.
public struct SampleValidator: Sendable {
    public var limits: SampleLimits

    public init(limits: SampleLimits = .default) {
        self.limits = limits
    }

    /// Every problem of one sample; empty when the sample is valid.
    public func problems(in sample: Sample) -> [SampleProblem] {
        var problems = problems(in: sample.key)
        if !sample.value.isFinite {
            problems.append(SampleProblem(field: "value", reason: "must be a finite number, got \(sample.value)"))
        }
        if let problem = Self.timestampProblem(sample.timestamp) { problems.append(problem) }
        return problems
    }

    /// Why a timestamp cannot be stored, if it cannot.
    public static func timestampProblem(_ timestamp: Int64) -> SampleProblem? {
        guard timestamp < Timestamp.earliest || timestamp > Timestamp.latest else { return nil }
        return SampleProblem(
            field: "ts",
            reason: "must be milliseconds since the Unix epoch between \(Timestamp.earliest) and \(Timestamp.latest), got \(timestamp)"
        )
    }

    /// Every problem of a series key; empty when the key is valid.
    public func problems(in key: SeriesKey) -> [SampleProblem] {
        var problems: [SampleProblem] = []
        if let reason = Self.metricNameProblem(key.metric, maxLength: limits.maxMetricNameLength) {
            problems.append(SampleProblem(field: "metric", reason: reason))
        }
        if key.labels.count > limits.maxLabels {
            problems.append(SampleProblem(
                field: "labels",
                reason: "has \(key.labels.count) labels, at most \(limits.maxLabels) are allowed"
            ))
        }
        var previous: String?
        for label in key.labels {
            // Built only for a problem: valid samples are the hot path.
            var field: String { "labels.\(Self.printable(label.name, limit: 64))" }
            if let reason = Self.labelNameProblem(label.name, maxLength: limits.maxLabelNameLength) {
                problems.append(SampleProblem(field: field, reason: reason))
            }
            // Labels are sorted, so a repeated name sits next to its twin.
            if label.name == previous {
                problems.append(SampleProblem(field: field, reason: "label name appears more than once"))
            }
            previous = label.name
            if label.value.isEmpty {
                problems.append(SampleProblem(field: field, reason: "label value must not be empty (omit the label instead)"))
            } else if label.value.utf8.count > limits.maxLabelValueLength {
                problems.append(SampleProblem(
                    field: field,
                    reason: "label value is \(label.value.utf8.count) bytes long, at most \(limits.maxLabelValueLength) are allowed"
                ))
            }
        }
        return problems
    }

    public static func metricNameProblem(_ name: String, maxLength: Int = SampleLimits.default.maxMetricNameLength) -> String? {
        if name.isEmpty { return "metric name must not be empty" }
        if name.utf8.count > maxLength {
            return "metric name is \(name.utf8.count) bytes long, at most \(maxLength) are allowed"
        }
        if !isValidName(name, allowColon: true) {
            return "metric name \"\(printable(name, limit: 64))\" must match [a-zA-Z_:][a-zA-Z0-9_:]*"
        }
        return nil
    }

    public static func labelNameProblem(_ name: String, maxLength: Int = SampleLimits.default.maxLabelNameLength) -> String? {
        if name.isEmpty { return "label name must not be empty" }
        if name.utf8.count > maxLength {
            return "label name is \(name.utf8.count) bytes long, at most \(maxLength) are allowed"
        }
        if !isValidName(name, allowColon: false) {
            return "label name \"\(printable(name, limit: 64))\" must match [a-zA-Z_][a-zA-Z0-9_]*"
        }
        if name.hasPrefix("__") {
            return "label names starting with \"__\" are reserved"
        }
        return nil
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (a metric name) or, without colons, a label name.
    public static func isValidName(_ name: String, allowColon: Bool) -> Bool {
        var first = true
        for byte in name.utf8 {
            let isLetter = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || byte == UInt8(ascii: "_")
                || (allowColon && byte == UInt8(ascii: ":"))
            let isDigit = byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
            if !(isLetter || (!first && isDigit)) { return false }
            first = false
        }
        return !first
    }

    /// A name as it may be quoted back in an error: bounded, control characters escaped.
    public static func printable(_ text: String, limit: Int) -> String {
        var out = ""
        for (count, scalar) in text.unicodeScalars.enumerated() {
            if count == limit { return out + "…" }
            out += scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }
        return out
    }
}
