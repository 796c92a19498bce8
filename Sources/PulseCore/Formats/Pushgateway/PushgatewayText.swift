/// The Prometheus text format (0.0.4) as a push to the Pushgateway API sends
/// it, read the way Pushgateway 1.x reads it:
///
/// - `# TYPE` makes a family a counter, gauge, summary, histogram or untyped
///   (the default); it comes before the family's samples, once. `# HELP` comes
///   once. A summary's `_sum` and `_count` lines and a histogram's `_bucket`,
///   `_sum` and `_count` lines belong to the family they were declared under.
/// - Samples may not carry a timestamp: the push's time is theirs.
/// - The grouping key's labels replace the same-named labels of every metric,
///   and a metric with no `instance` gets `instance=""`; empty label values
///   are kept, as Pushgateway keeps them.
/// - `push_time_seconds` and `push_failure_time_seconds` are the group's own,
///   and are dropped from a push.
///
/// What is read is the push's families (what the group exposes) and the
/// samples they make (what the store and the live stream get): one per line
/// that `/metrics` will show, with empty-valued labels left out because the
/// store does not carry them (see `SampleValidator`), stamped `now`.
/// Non-finite values (a summary's quantile with no observations is NaN) are
/// exposed but not stored, and counted as skipped.
public enum PushgatewayText {
    /// A push, read.
    public struct Push: Sendable {
        /// Sorted by name.
        public var families: [PushedFamily]
        public var samples: [Sample]
        public var skipped: [SkippedSample: Int]

        /// What the pipeline takes: the samples, what was skipped, and the families for the group.
        func batch(checkedAgainst limits: SampleLimits) -> ValidatedBatch {
            var batch = ValidatedBatch(samples: samples, checkedAgainst: limits)
            batch.skipped = skipped
            batch.families = families
            return batch
        }
    }

    /// The names a group exposes itself, whatever a push says.
    public static let groupOwnNames: Set<String> = ["push_time_seconds", "push_failure_time_seconds"]

    public static func read(
        _ body: some Collection<UInt8>, group: GroupingKey, now: Int64, maxSamples: Int, validator: SampleValidator
    ) -> Result<Push, IngestRejection> {
        guard let text = String(validating: body, as: UTF8.self) else {
            return .failure(IngestRejection(.malformed, "the body is not valid UTF-8"))
        }
        var reader = FamilyReader(group: group)
        var sampleLines = 0
        for (number, line) in PrometheusText.lines(of: text) {
            if line.first == "#" {
                reader.comment(line, at: number)
                continue
            }
            sampleLines += 1
            guard sampleLines <= maxSamples else {
                return .failure(IngestRejection(.tooManySamples, "more than \(maxSamples) samples in one request: split the request"))
            }
            reader.sample(line, at: number)
        }
        guard reader.problems.isEmpty else {
            return .failure(IngestRejection(.invalidSamples, "\(Set(reader.problems.compactMap(\.index)).count) lines are invalid; nothing was stored", problems: reader.problems))
        }
        let families = reader.families()
        return push(of: families, origins: families.map { reader.firstLines[$0.name]! }, now: now, validator: validator, unit: "lines")
    }

    /// The samples of pushed families (either format's), each checked by
    /// `validator`; a problem names where its metric came from (`origins`, by
    /// family and metric: a line, or a family's place in a protobuf body).
    static func push(of families: [PushedFamily], origins: [[Int]], now: Int64, validator: SampleValidator, unit: String) -> Result<Push, IngestRejection> {
        var push = Push(families: families, samples: [], skipped: [:])
        var problems: [IngestProblem] = []
        for (family, origins) in zip(families, origins) {
            for (metric, origin) in zip(family.metrics, origins) {
                for sample in samples(of: metric, in: family, at: now) {
                    if sample.value.isNaN {
                        push.skipped[.nan, default: 0] += 1
                    } else if sample.value.isInfinite {
                        push.skipped[.infinite, default: 0] += 1
                    } else {
                        problems += validator.problems(in: sample).map { IngestProblem(index: origin, field: $0.field, reason: $0.reason) }
                        push.samples.append(sample)
                    }
                }
            }
        }
        guard problems.isEmpty else {
            return .failure(IngestRejection(.invalidSamples, "\(Set(problems.compactMap(\.index)).count) \(unit) are invalid; nothing was stored", problems: problems))
        }
        return .success(push)
    }

    /// The samples a metric's exposition shows, as the store keeps them.
    static func samples(of metric: PushedMetric, in family: PushedFamily, at now: Int64) -> [Sample] {
        let labels = metric.labels.filter { !$0.value.isEmpty }
        func sample(_ suffix: String, _ value: Double, _ extra: Label? = nil) -> Sample {
            Sample(key: SeriesKey(metric: family.name + suffix, labels: extra.map { labels + [$0] } ?? labels), timestamp: now, value: value)
        }
        switch metric.value {
        case let .single(value):
            return [sample("", value)]
        case let .summary(quantiles, sum, count):
            return quantiles.map { sample("", $0.value, Label("quantile", GoFloatText.format($0.bound))) } + [sample("_sum", sum), sample("_count", count)]
        case let .histogram(buckets, sum, count):
            var lines = buckets.map { sample("_bucket", $0.value, Label("le", GoFloatText.format($0.bound))) }
            if !buckets.contains(where: { $0.bound == .infinity }) { lines.append(sample("_bucket", count, Label("le", "+Inf"))) }
            return lines + [sample("_sum", sum), sample("_count", count)]
        }
    }
}

/// Reads a push's lines into families, collecting every problem with its line number.
private struct FamilyReader {
    /// What a sample line is to its family.
    private enum Role {
        case value, quantile, bucket, sum, count
    }

    let group: GroupingKey
    private var byName: [String: PushedFamily] = [:]
    /// Per family, each metric's index by its labels.
    private var metricIndex: [String: [[Label]: Int]] = [:]
    /// Per family, the line each metric was first seen on, by the metric's index.
    private(set) var firstLines: [String: [Int]] = [:]
    /// Families given a `# TYPE`.
    private var typed: Set<String> = []
    /// The single values, `_sum`s and `_count`s given so far, so that one given twice is caught.
    private var given: Set<Given> = []

    private struct Given: Hashable {
        let family: String
        let labels: [Label]
        let role: Role
    }
    private(set) var problems: [IngestProblem] = []

    init(group: GroupingKey) {
        self.group = group
    }

    /// Sorted by name; a family with a `# HELP` or `# TYPE` and no samples is no family.
    func families() -> [PushedFamily] {
        byName.keys.sorted().compactMap { name in
            guard let family = byName[name], !family.metrics.isEmpty, !PushgatewayText.groupOwnNames.contains(name) else { return nil }
            return family
        }
    }

    private mutating func problem(_ line: Int, _ field: String, _ reason: String) {
        problems.append(IngestProblem(index: line, field: field, reason: reason))
    }

    /// `# HELP name text` and `# TYPE name kind`; other comments are comments.
    mutating func comment(_ line: Substring, at number: Int) {
        let words = line.dropFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard let keyword = words.first, keyword == "HELP" || keyword == "TYPE" else { return }
        guard words.count >= 2, SampleValidator.metricNameProblem(String(words[1])) == nil else {
            return problem(number, "comment", "# \(keyword) needs a valid metric name")
        }
        let name = String(words[1])
        if keyword == "HELP" {
            guard byName[name]?.help == nil else { return problem(number, "comment", "a second # HELP line for \(name)") }
            byName[name, default: PushedFamily(name: name, type: .unknown)].help = words.count == 3 ? Self.unescapedHelp(words[2]) : ""
            return
        }
        let types: [Substring: MetricType] = ["counter": .counter, "gauge": .gauge, "histogram": .histogram, "summary": .summary, "untyped": .unknown]
        guard words.count == 3, let type = types[words[2]] else {
            return problem(number, "comment", "# TYPE needs one of counter, gauge, histogram, summary, untyped")
        }
        guard !typed.contains(name), byName[name]?.metrics.isEmpty ?? true else {
            return problem(number, "comment", "# TYPE for \(name) must come once, before its samples")
        }
        typed.insert(name)
        byName[name, default: PushedFamily(name: name, type: type)].type = type
    }

    mutating func sample(_ text: Substring, at number: Int) {
        let line: PrometheusText.Line
        switch PrometheusText.line(text) {
        case let .success(read): line = read
        case let .failure(problem): return self.problem(number, problem.field, problem.reason)
        }
        if line.timestamp != nil {
            problem(number, "timestamp", "pushed metrics must not have timestamps (the push's time is theirs)")
        }
        var names: Set<String> = []
        for label in line.labels where !names.insert(label.name).inserted {
            return problem(number, "labels.\(SampleValidator.printable(label.name, limit: 64))", "label name appears more than once")
        }
        let (familyName, role) = family(of: line.name)
        if byName[familyName]?.type == .histogram, role == .value {
            return problem(number, "metric", "\(line.name) is a histogram: its lines are \(line.name)_bucket, _sum and _count")
        }
        // A quantile's or a bucket's bound is part of the value, not of the metric's labels.
        var bound: Double?
        var labels = line.labels
        if let boundName = role == .quantile ? "quantile" : role == .bucket ? "le" : nil {
            guard let index = labels.firstIndex(where: { $0.name == boundName }),
                  let value = PrometheusText.number(Substring(labels[index].value)), !value.isNaN
            else { return problem(number, "labels.\(boundName)", "a \(role == .quantile ? "summary" : "histogram bucket") line needs a numeric \(boundName) label") }
            bound = value
            labels.remove(at: index)
        }
        if role == .count || role == .bucket, !(line.value >= 0) {
            return problem(number, "value", "a count must be a non-negative number, got \(line.value)")
        }
        labels = group.exposing(labels)
        var family = byName[familyName] ?? PushedFamily(name: familyName, type: .unknown)
        var index = metricIndex[familyName, default: [:]]
        let metricAt: Int
        if let existing = index[labels] {
            metricAt = existing
        } else {
            metricAt = family.metrics.count
            index[labels] = metricAt
            firstLines[familyName, default: []].append(number)
            family.metrics.append(PushedMetric(labels: labels, value: Self.empty(family.type)))
        }
        metricIndex[familyName] = index
        // A count is a whole number in Prometheus's data model: Pushgateway truncates it.
        let value = role == .count || role == .bucket ? line.value.rounded(.towardZero) : line.value
        if let problem = Self.add(value, bound: bound, as: role, to: &family.metrics[metricAt].value, given: &given, key: Given(family: familyName, labels: labels, role: role)) {
            self.problem(number, "metric", "\(line.name)\(LabelText.encode(line.labels)) \(problem)")
        }
        byName[familyName] = family
    }

    /// The family a sample's name belongs to: a declared summary's or histogram's, or its own.
    private func family(of name: String) -> (String, Role) {
        let suffixes: [(String, Role)] = [("_bucket", .bucket), ("_sum", .sum), ("_count", .count)]
        for (suffix, role) in suffixes where name.hasSuffix(suffix) {
            let base = String(name.dropLast(suffix.count))
            switch byName[base]?.type {
            case .histogram?: return (base, role)
            case .summary? where role != .bucket: return (base, role)
            default: continue
            }
        }
        return (name, byName[name]?.type == .summary ? .quantile : .value)
    }

    private static func empty(_ type: MetricType) -> PushedMetric.Value {
        switch type {
        case .summary: .summary(quantiles: [], sum: 0, count: 0)
        case .histogram: .histogram(buckets: [], sum: 0, count: 0)
        default: .single(0)
        }
    }

    /// Puts one line's value where its role says; why not, when the metric already has it.
    private static func add(_ value: Double, bound: Double?, as role: Role, to metric: inout PushedMetric.Value, given: inout Set<Given>, key: Given) -> String? {
        let twice = "was pushed before with the same name and label values"
        switch (role, metric) {
        case (.value, .single):
            guard given.insert(key).inserted else { return twice }
            metric = .single(value)
        case (.quantile, .summary(var quantiles, let sum, let count)):
            guard !quantiles.contains(where: { $0.bound == bound! }) else { return twice }
            quantiles.append(.init(bound!, value))
            metric = .summary(quantiles: quantiles, sum: sum, count: count)
        case (.bucket, .histogram(var buckets, let sum, let count)):
            guard !buckets.contains(where: { $0.bound == bound! }) else { return twice }
            buckets.append(.init(bound!, value))
            metric = .histogram(buckets: buckets, sum: sum, count: count)
        case (.sum, .summary(let quantiles, _, let count)):
            guard given.insert(key).inserted else { return twice }
            metric = .summary(quantiles: quantiles, sum: value, count: count)
        case (.count, .summary(let quantiles, let sum, _)):
            guard given.insert(key).inserted else { return twice }
            metric = .summary(quantiles: quantiles, sum: sum, count: value)
        case (.sum, .histogram(let buckets, _, let count)):
            guard given.insert(key).inserted else { return twice }
            metric = .histogram(buckets: buckets, sum: value, count: count)
        case (.count, .histogram(let buckets, let sum, _)):
            guard given.insert(key).inserted else { return twice }
            metric = .histogram(buckets: buckets, sum: sum, count: value)
        default:
            return "does not fit its family's type"
        }
        return nil
    }

    /// `\\` and `\n` are the help text's escapes.
    private static func unescapedHelp(_ text: Substring) -> String {
        guard text.contains("\\") else { return String(text) }
        var help = ""
        var escaped = false
        for character in text {
            if escaped {
                help.append(character == "n" ? "\n" : character)  // \\ → \, and anything else as itself
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else {
                help.append(character)
            }
        }
        if escaped { help.append("\\") }
        return help
    }
}
