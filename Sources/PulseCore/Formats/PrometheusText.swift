/// The Prometheus text exposition format (0.0.4), as pushed to `POST /ingest`:
///
///     # HELP http_requests_total Requests served.
///     # TYPE http_requests_total counter
///     http_requests_total{method="get",code="200"} 1027 1764470000000
///
/// A sample line is a metric name, optional labels (`\\`, `\"` and `\n`
/// escapes in values, a trailing comma allowed), a value (`NaN`, `+Inf` and
/// `-Inf` are read, and then refused as every non-finite value is), and an
/// optional timestamp in milliseconds (`now` when absent). Problems are
/// reported with the 1-based line number as their index.
public enum PrometheusText {
    public static func samples(from body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<[Sample], IngestRejection> {
        guard let text = String(validating: body, as: UTF8.self) else {
            return .failure(IngestRejection(.malformed, "the body is not valid UTF-8"))
        }
        var samples: [Sample] = []
        var problems: [IngestProblem] = []
        for (lineNumber, line) in lines(of: text) {
            if line.first == "#" {
                if let problem = commentProblem(line) { problems.append(IngestProblem(index: lineNumber, field: "comment", reason: problem)) }
                continue
            }
            guard samples.count < maxSamples else {
                return .failure(IngestRejection(.tooManySamples, "more than \(maxSamples) samples in one request: split the request"))
            }
            switch sample(line, now: now) {
            case let .success(sample):
                problems += validator.problems(in: sample).map { IngestProblem(index: lineNumber, field: $0.field, reason: $0.reason) }
                samples.append(sample)
            case let .failure(problem):
                problems.append(IngestProblem(index: lineNumber, field: problem.field, reason: problem.reason))
            }
        }
        guard problems.isEmpty else {
            return .failure(IngestRejection(.invalidSamples, "\(Set(problems.compactMap(\.index)).count) lines are invalid; nothing was stored", problems: problems))
        }
        return .success(samples)
    }

    /// The lines worth reading, with their 1-based numbers: a line may end in
    /// `\r\n`, and blank lines are passed over.
    static func lines(of text: String) -> some Sequence<(number: Int, line: Substring)> {
        text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().lazy
            .map { (number: $0.offset + 1, line: $0.element.hasSuffix("\r") ? $0.element.dropLast() : $0.element) }
            .filter { !$0.line.allSatisfy { $0 == " " || $0 == "\t" } }
    }

    /// `# HELP name …` and `# TYPE name kind` must name a valid metric (and a known kind).
    private static func commentProblem(_ line: Substring) -> String? {
        let words = line.dropFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
        guard let keyword = words.first, keyword == "HELP" || keyword == "TYPE" else { return nil }
        guard words.count >= 2, SampleValidator.metricNameProblem(String(words[1])) == nil else {
            return "# \(keyword) needs a valid metric name"
        }
        if keyword == "TYPE" {
            let kinds: Set<Substring> = ["counter", "gauge", "histogram", "summary", "untyped"]
            guard words.count == 3, kinds.contains(words[2]) else {
                return "# TYPE needs one of counter, gauge, histogram, summary, untyped"
            }
        }
        return nil
    }

    private static func sample(_ line: Substring, now: Int64) -> Result<Sample, SampleProblem> {
        self.line(line).map { Sample(key: SeriesKey(metric: $0.name, labels: $0.labels), timestamp: $0.timestamp ?? now, value: $0.value) }
    }

    /// One sample line as written: its name, its labels in their order, its
    /// value, and its timestamp if it has one.
    struct Line {
        var name: String
        var labels: [Label]
        var value: Double
        var timestamp: Int64?
    }

    static func line(_ line: Substring) -> Result<Line, SampleProblem> {
        var rest = line[...]
        let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
        guard !name.isEmpty else { return .failure(SampleProblem(field: "metric", reason: "a line must start with a metric name")) }
        rest = rest.dropFirst(name.count)
        var labels: [Label] = []
        if rest.first == "{" {
            rest = rest.dropFirst()
            switch parseLabels(&rest) {
            case let .success(parsed): labels = parsed
            case let .failure(problem): return .failure(problem)
            }
        }
        let fields = rest.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard (1...2).contains(fields.count), rest.first == " " || rest.first == "\t" else {
            return .failure(SampleProblem(field: "value", reason: "expected a value and an optional timestamp after the metric"))
        }
        guard let value = number(fields[0]) else {
            return .failure(SampleProblem(field: "value", reason: "\"\(SampleValidator.printable(String(fields[0]), limit: 32))\" is not a number"))
        }
        var timestamp: Int64?
        if fields.count == 2 {
            guard let parsed = Int64(fields[1]) else {
                return .failure(SampleProblem(field: "timestamp", reason: "must be an integer number of milliseconds since the Unix epoch"))
            }
            timestamp = parsed
        }
        return .success(Line(name: String(name), labels: labels, value: value, timestamp: timestamp))
    }

    /// After `{`: `name="value"` pairs up to `}`.
    private static func parseLabels(_ rest: inout Substring) -> Result<[Label], SampleProblem> {
        var labels: [Label] = []
        while true {
            rest = rest.drop { $0 == " " }
            if rest.first == "}" {
                rest = rest.dropFirst()
                return .success(labels)
            }
            let name = rest.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }
            guard !name.isEmpty else { return .failure(SampleProblem(field: "labels", reason: "expected a label name or }")) }
            rest = rest.dropFirst(name.count).drop { $0 == " " }
            guard rest.first == "=" else { return .failure(SampleProblem(field: "labels.\(name)", reason: "expected =")) }
            rest = rest.dropFirst().drop { $0 == " " }
            guard rest.first == "\"" else { return .failure(SampleProblem(field: "labels.\(name)", reason: "label value must be quoted")) }
            rest = rest.dropFirst()
            var value = ""
            var closed = false
            while let character = rest.first {
                rest = rest.dropFirst()
                if character == "\"" { closed = true; break }
                if character == "\\" {
                    switch rest.first {
                    case "\\": value.append("\\")
                    case "\"": value.append("\"")
                    case "n": value.append("\n")
                    default: return .failure(SampleProblem(field: "labels.\(name)", reason: "only \\\\, \\\" and \\n are escapes"))
                    }
                    rest = rest.dropFirst()
                } else {
                    value.append(character)
                }
            }
            guard closed else { return .failure(SampleProblem(field: "labels.\(name)", reason: "unterminated label value")) }
            labels.append(Label(String(name), value))
            rest = rest.drop { $0 == " " }
            if rest.first == "," { rest = rest.dropFirst() } else if rest.first != "}" {
                return .failure(SampleProblem(field: "labels", reason: "expected , or } after a label"))
            }
        }
    }

    static func number(_ text: Substring) -> Double? {
        switch text {
        case "NaN": return .nan
        case "+Inf", "Inf": return .infinity
        case "-Inf": return -.infinity
        default:
            // Swift's Double(_:) also reads "nan", "inf" and hex floats; the format has none of those.
            guard text.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }) else { return nil }
            return Double(text)
        }
    }
}
