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
    /// Why, in a word: what the ingest endpoint counts rejections by.
    public enum Reason: String, Sendable, CaseIterable {
        /// Not the format: bad JSON, wrong shape, invalid UTF-8.
        case malformed = "malformed"
        case tooManySamples = "too_many_samples"
        /// Well-formed, but some samples break the rules (names, values, labels…).
        case invalidSamples = "invalid_samples"
    }

    public var reason: Reason
    public var message: String
    public var problems: [IngestProblem]
    /// The samples refused for problems, when a format counts them otherwise
    /// than one per problem index (remote_write: every sample of an invalid series).
    public var refusedSamples: Int?

    public init(_ reason: Reason, _ message: String, problems: [IngestProblem] = []) {
        self.reason = reason
        self.message = message
        self.problems = problems
    }

    public var description: String {
        ([message] + problems.prefix(10).map(\.description)).joined(separator: "; ")
    }
}
