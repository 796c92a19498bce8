import Metrics

/// `pulsegate_history_requests_rejected_total{reason}`: `/history` requests
/// refused by a bound (`range_too_long`, `too_many_points`, `too_many_series`)
/// or for a bad parameter (`bad_parameter`), each present from the start at 0.
struct QueryMetrics: Sendable {
    static let reasons = ["bad_parameter", "range_too_long", "too_many_points", "too_many_series"]
    private let counters: [String: Counter]

    init(factory: any MetricsFactory) {
        counters = Dictionary(uniqueKeysWithValues: Self.reasons.map { reason in
            (reason, Counter(label: "pulsegate_history_requests_rejected_total", dimensions: [("reason", reason)], factory: factory))
        })
    }

    func rejected(_ reason: String) {
        counters[reason]?.increment()
    }
}
