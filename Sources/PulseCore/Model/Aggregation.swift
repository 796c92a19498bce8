/// How the samples inside one downsampling bucket become one point.
public enum Aggregation: String, Sendable, CaseIterable, Codable {
    case avg, min, max, sum, last, count
}
