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
        let query = QueryParameters(uri.query)
        switch SubscriptionFilter.parse(query.values("metric")) {
        case let .success(filter): self.filter = filter
        case let .failure(rejected): throw APIError(.badRequest, "metric: \(rejected)")
        }
        let sinceTimestamp = try query.integer("since_ts", as: Int64.self)
        let since = try query.integer("since", as: UInt64.self)
        let instance = try query.value("instance")
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
}
