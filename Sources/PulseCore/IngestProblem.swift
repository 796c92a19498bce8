/// One reason a pushed request is refused: which sample (when it is about one),
/// which field, and why. The ingest endpoint lists every one of them.
public struct IngestProblem: Sendable, Hashable, CustomStringConvertible {
    public var index: Int?
    public var field: String
    public var reason: String

    public init(index: Int?, field: String, reason: String) {
        self.index = index
        self.field = field
        self.reason = reason
    }

    public var description: String {
        (index.map { "sample \($0): " } ?? "") + "\(field): \(reason)"
    }
}

/// A pushed request refused as a whole: nothing of it is stored or broadcast.
public struct IngestRejection: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var problems: [IngestProblem]

    public init(_ message: String, problems: [IngestProblem] = []) {
        self.message = message
        self.problems = problems
    }

    public var description: String {
        ([message] + problems.prefix(10).map(\.description)).joined(separator: "; ")
    }
}
