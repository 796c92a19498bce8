import Hummingbird
import HummingbirdCore
import PulseCore
import PulseLive

/// The query of a `/ws/metrics` upgrade: `metric=` (repeatable, names or
/// prefixes ending in `*`), and where to resume: `since=<seq>` with
/// `instance=<id>`, and/or `since_ts=<ms>`.
struct LiveRequest: Sendable {
    let filter: SubscriptionFilter
    let resume: ResumePoint?

    init(_ request: Request) throws(APIError) {
        try self.init(uri: request.uri)
    }

    init(uri: URI) throws(APIError) {
        let query = uri.queryParameters
        switch SubscriptionFilter.parse(query.getAll("metric").map { String($0) }) {
        case let .success(filter): self.filter = filter
        case let .failure(rejected): throw APIError(.badRequest, "metric: \(rejected)")
        }
        let sinceTimestamp = try Self.integer(query["since_ts"].map { String($0) }, name: "since_ts", as: Int64.self)
        let since = try Self.integer(query["since"].map { String($0) }, name: "since", as: UInt64.self)
        let instance = query["instance"].map { String($0) }
        if instance != nil, since == nil {
            throw APIError(.badRequest, "instance goes with since=<seq>")
        }
        if let instance, instance.count > 64 {
            throw APIError(.badRequest, "instance is at most 64 characters")
        }
        if let since {
            resume = .sequence(since, instance: instance, fallbackTimestamp: sinceTimestamp)
        } else {
            resume = sinceTimestamp.map(ResumePoint.timestamp)
        }
    }

    private static func integer<Value: FixedWidthInteger>(_ text: String?, name: String, as: Value.Type) throws(APIError) -> Value? {
        guard let text else { return nil }
        guard let value = Value(text), value >= 0 else {
            throw APIError(.badRequest, "\(name) must be a non-negative integer, got \"\(text.prefix(40))\"")
        }
        return value
    }
}
