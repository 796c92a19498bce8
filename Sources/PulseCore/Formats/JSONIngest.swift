/// The JSON push format: `{"samples":[{"metric":"m","labels":{"a":"b"},"ts":1764470000000,"value":1.5}]}`.
///
/// `ts` is optional (milliseconds since the epoch; `now` when absent) and must
/// be an integer; `labels` is optional. Every problem of every sample is
/// reported, and any problem refuses the whole request.
public enum JSONIngest {
    public static func samples(from body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<[Sample], IngestRejection> {
        let document: JSONValue
        switch JSONValue.parse(body) {
        case let .success(value): document = value
        case let .failure(error): return .failure(IngestRejection(.malformed, "the body is not valid JSON: \(error)"))
        }
        guard case let .object(members) = document else {
            return .failure(IngestRejection(.malformed, #"the body must be a JSON object {"samples":[…]}"#))
        }
        if let unknown = members.first(where: { $0.key != "samples" }) {
            return .failure(IngestRejection(.malformed, "unknown member \"\(SampleValidator.printable(unknown.key, limit: 40))\": the body is {\"samples\":[…]}"))
        }
        guard members.count == 1, case let .array(entries) = members[0].value else {
            return .failure(IngestRejection(.malformed, #"the body must have exactly one "samples" array"#))
        }
        guard entries.count <= maxSamples else {
            return .failure(IngestRejection(.tooManySamples, "\(entries.count) samples in one request, at most \(maxSamples) are allowed: split the request"))
        }
        var samples: [Sample] = []
        samples.reserveCapacity(entries.count)
        var problems: [IngestProblem] = []
        for (index, entry) in entries.enumerated() {
            let (key, decoded, found) = sample(entry, now: now)
            // The key's problems are reported even when the value or ts is malformed.
            let checked = decoded.map(validator.problems(in:)) ?? key.map(validator.problems(in:)) ?? []
            let all = found + checked
            problems += all.map { IngestProblem(index: index, field: $0.field, reason: $0.reason) }
            if let decoded { samples.append(decoded) }
        }
        guard problems.isEmpty else {
            return .failure(IngestRejection(.invalidSamples, "\(Set(problems.compactMap(\.index)).count) of \(entries.count) samples are invalid; nothing was stored", problems: problems))
        }
        return .success(samples)
    }

    /// The series key and the sample an entry describes, as far as its shape
    /// allows, and the problems of its shape.
    private static func sample(_ entry: JSONValue, now: Int64) -> (SeriesKey?, Sample?, [SampleProblem]) {
        guard case let .object(members) = entry else {
            return (nil, nil, [SampleProblem(field: "sample", reason: "must be an object with metric, labels, ts and value")])
        }
        var problems: [SampleProblem] = []
        var seen = SeenFields()
        var metric: String?
        var labels: [Label] = []
        var timestamp: Int64?
        var value: Double?
        for (key, member) in members {
            guard seen.insert(key) else {
                problems.append(SampleProblem(field: SampleValidator.printable(key, limit: 40), reason: "appears more than once"))
                continue
            }
            switch key {
            case "metric":
                if case let .string(text) = member { metric = text } else { problems.append(SampleProblem(field: "metric", reason: "must be a string")) }
            case "labels":
                guard case let .object(pairs) = member else {
                    problems.append(SampleProblem(field: "labels", reason: "must be an object of string values"))
                    continue
                }
                // A repeated name is kept: the validator reports it (labels are sorted, so twins meet).
                labels.reserveCapacity(pairs.count)
                for (name, labelValue) in pairs {
                    guard case let .string(text) = labelValue else {
                        problems.append(SampleProblem(field: "labels.\(SampleValidator.printable(name, limit: 64))", reason: "label value must be a string"))
                        continue
                    }
                    labels.append(Label(name, text))
                }
            case "ts":
                guard case let .number(text) = member, let integer = wholeNumber(text) else {
                    problems.append(SampleProblem(field: "ts", reason: "must be a whole number of milliseconds since the Unix epoch"))
                    continue
                }
                timestamp = integer
            case "value":
                guard case let .number(text) = member, let number = Double(text) else {
                    problems.append(SampleProblem(field: "value", reason: "must be a number"))
                    continue
                }
                value = number  // 1e400 becomes infinity here, and the validator refuses it
            default:
                problems.append(SampleProblem(field: SampleValidator.printable(key, limit: 40), reason: "unknown field; a sample has metric, labels, ts and value"))
            }
        }
        if metric == nil, !seen.contains(.metric) { problems.append(SampleProblem(field: "metric", reason: "is required")) }
        if value == nil, !seen.contains(.value) { problems.append(SampleProblem(field: "value", reason: "is required")) }
        let key = metric.map { SeriesKey(metric: $0, labels: labels) }
        guard problems.isEmpty, let key, let value else { return (key, nil, problems) }
        return (key, Sample(key: key, timestamp: timestamp ?? now, value: value), [])
    }

    /// A JSON number that is a whole number: `1764470000000`, or as float-minded
    /// clients write it (`1764470000000.0`, `1.76447e12`, Python's `time.time() * 1000`
    /// rounded). Doubles are exact up to 2^53, far beyond any valid timestamp.
    static func wholeNumber(_ text: String) -> Int64? {
        if let integer = Int64(text) { return integer }
        guard let number = Double(text), number.rounded() == number, abs(number) <= 9_007_199_254_740_992 else { return nil }
        return Int64(number)
    }

    /// The fields of one sample entry seen so far: a set of four flags rather
    /// than a `Set<String>`, which would cost an allocation per sample.
    private struct SeenFields: OptionSet {
        let rawValue: UInt8
        static let metric = SeenFields(rawValue: 1)
        static let labels = SeenFields(rawValue: 2)
        static let ts = SeenFields(rawValue: 4)
        static let value = SeenFields(rawValue: 8)

        /// False when `key` is a known field seen before (unknown keys are reported anyway).
        mutating func insert(_ key: String) -> Bool {
            let field: SeenFields
            switch key {
            case "metric": field = .metric
            case "labels": field = .labels
            case "ts": field = .ts
            case "value": field = .value
            default: return true
            }
            return insert(field).inserted
        }
    }
}
