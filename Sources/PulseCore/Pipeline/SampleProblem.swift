/// Why a sample was refused: which field, and what is wrong with it.
///
/// The ingest endpoint reports these per sample (with the sample's index), so
/// the reason is written for the person who sent it.
public struct SampleProblem: Error, Hashable, Sendable, CustomStringConvertible {
    public var field: String
    public var reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field): \(reason)" }
}
