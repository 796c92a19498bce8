/// One label of a series: a name and a value, as Prometheus defines them.
public struct Label: Hashable, Sendable, Codable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}
