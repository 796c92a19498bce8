import Hummingbird
import HummingbirdCore
import PulseCore

/// The parameters of `GET /history`, checked: `metric` (required), label
/// matchers (`label=value`, `label!=value`), `from`/`to`, `step` or `points`,
/// `agg`; names and values decoded as forms encode them (`QueryParameters`).
struct HistoryRequest: Sendable {
    let selector: SeriesSelector
    let from: Int64
    let to: Int64
    /// Bucket width in ms; nil for raw points.
    let step: Int64?
    let aggregation: Aggregation

    static let reserved: Set<String> = ["metric", "from", "to", "step", "points", "agg"]

    init(uri: URI, now: Int64, limits: QueryLimits) throws(APIError) {
        let query = QueryParameters(uri.query)
        var values: [String: String] = [:]
        for name in Self.reserved {
            values[name] = try query.value(name)
        }
        var matchers: [LabelMatcher] = []
        for (key, value) in query.pairs where !Self.reserved.contains(key) {
            // `label!=value` arrives as the key "label!".
            let negated = key.hasSuffix("!")
            let name = negated ? String(key.dropLast()) : key
            if let problem = SampleValidator.labelNameProblem(name) {
                throw APIError(.badRequest, "label matcher \(name.prefix(64)): \(problem)")
            }
            matchers.append(LabelMatcher(name, negated ? .notEqual : .equal, value))
        }
        guard matchers.count <= SampleLimits.default.maxLabels else {
            throw APIError(.badRequest, "at most \(SampleLimits.default.maxLabels) label matchers")
        }

        guard let metric = values["metric"], !metric.isEmpty else {
            throw APIError(.badRequest, "metric is required, e.g. /history?metric=host_cpu_usage_ratio")
        }
        if let problem = SampleValidator.metricNameProblem(metric) { throw APIError(.badRequest, problem) }
        selector = SeriesSelector(metric: metric, matchers: matchers)

        func time(_ name: String, default fallback: Int64) throws(APIError) -> Int64 {
            guard let text = values[name] else { return fallback }
            guard let value = TimeText.milliseconds(text, now: now), value >= Timestamp.earliest, value <= Timestamp.latest else {
                throw APIError(.badRequest, "\(name) \"\(text.prefix(64))\" is not a time: use Unix ms, RFC 3339 (2026-11-30T03:00:00Z), now, or -15m / now-1h")
            }
            return value
        }
        from = try time("from", default: max(0, now - 3_600_000))
        to = try time("to", default: now)
        guard from <= to else { throw APIError(.badRequest, "from (\(from)) is after to (\(to))") }
        guard to - from <= limits.maxRange else {
            throw APIError(.badRequest, "the range is \(DurationText.format(milliseconds: to - from)), at most \(DurationText.format(milliseconds: limits.maxRange)) may be asked: narrow from/to", bound: "range_too_long")
        }

        if let text = values["points"] {
            guard values["step"] == nil else { throw APIError(.badRequest, "give step or points, not both") }
            guard let points = Int(text), (1...limits.maxPoints).contains(points) else {
                throw APIError(.badRequest, "points \"\(text.prefix(64))\" is not a whole number from 1 to \(limits.maxPoints)")
            }
            step = FittingStep.step(from: from, to: to, points: points)
        } else if let text = values["step"] {
            guard let step = DurationText.milliseconds(text), step > 0 else {
                throw APIError(.badRequest, "step \"\(text.prefix(64))\" is not a positive duration: use e.g. 15s, 1m, 1h or milliseconds")
            }
            let buckets = to / step - from / step + 1
            if buckets > Int64(limits.maxPoints) {
                let needed = (to - from) / Int64(limits.maxPoints - 1) + 1
                throw APIError(.badRequest, "exceeded maximum resolution of \(limits.maxPoints) points per series: \(buckets) buckets of \(DurationText.format(milliseconds: step)); decrease the resolution with step=\(DurationText.format(milliseconds: needed)) or more, or narrow from/to", bound: "too_many_points")
            }
            self.step = step
        } else {
            step = nil
        }
        if let text = values["agg"] {
            guard let aggregation = Aggregation(rawValue: text) else {
                throw APIError(.badRequest, "agg \"\(text.prefix(32))\" is not one of \(Aggregation.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard step != nil else { throw APIError(.badRequest, "agg needs a step or points: raw points are not aggregated") }
            self.aggregation = aggregation
        } else {
            aggregation = .avg
        }
    }
}
