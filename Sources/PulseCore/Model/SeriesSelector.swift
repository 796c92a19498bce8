/// Which series a query reads: one metric, narrowed by label matchers.
public struct SeriesSelector: Sendable, Hashable {
    public var metric: String
    public var matchers: [LabelMatcher]

    public init(metric: String, matchers: [LabelMatcher] = []) {
        self.metric = metric
        self.matchers = matchers
    }

    public func matches(_ key: SeriesKey) -> Bool {
        key.metric == metric && matchers.allSatisfy { $0.matches(key) }
    }
}

/// A condition on one label. As in PromQL, an absent label has the value "".
public struct LabelMatcher: Sendable, Hashable {
    public enum Operation: String, Sendable, Hashable {
        case equal = "="
        case notEqual = "!="
    }

    public var name: String
    public var operation: Operation
    public var value: String

    public init(_ name: String, _ operation: Operation, _ value: String) {
        self.name = name
        self.operation = operation
        self.value = value
    }

    /// `name="value"`.
    public static func equal(_ name: String, _ value: String) -> LabelMatcher {
        LabelMatcher(name, .equal, value)
    }

    public func matches(_ key: SeriesKey) -> Bool {
        let actual = key[label: name] ?? ""
        switch operation {
        case .equal: return actual == value
        case .notEqual: return actual != value
        }
    }
}
