/// Metric names that belong to the gateway's own instrumentation: a pushed
/// series under one of them would pass for the gateway's own at `/metrics`.
/// Only the gateway's own sources may use them (see `SampleSource.isGatewayOwn`).
///
/// The rule comes from the module that knows the gateway's families (the
/// server's metrics catalog); the core knows none of them.
public struct ReservedNames: Sendable {
    private let rule: @Sendable (String) -> Bool
    /// How the refusal explains the rule to the client.
    public let explanation: String

    public init(explanation: String, _ rule: @escaping @Sendable (String) -> Bool) {
        self.rule = rule
        self.explanation = explanation
    }

    public func contains(_ metric: String) -> Bool { rule(metric) }

    /// Nothing is reserved.
    public static let none = ReservedNames(explanation: "") { _ in false }
}
