import Metrics

/// `pulsegate_http_heads_refused_total{reason}`: requests refused before they
/// were routed, by `RequestHeadGuard` (so never counted by route):
/// `uri_too_long` (414), `head_too_large` and `too_many_headers` (431),
/// `head_timeout` (408), `malformed` (400). Each present from the start at 0.
struct RequestHeadMetrics: Sendable {
    enum Reason: String, CaseIterable, Sendable {
        case uriTooLong = "uri_too_long"
        case headTooLarge = "head_too_large"
        case tooManyHeaders = "too_many_headers"
        case headTimeout = "head_timeout"
        case malformed
    }

    private let counters: [Reason: Counter]

    init(factory: any MetricsFactory) {
        counters = Dictionary(uniqueKeysWithValues: Reason.allCases.map { reason in
            (reason, Counter(label: "pulsegate_http_heads_refused_total", dimensions: [("reason", reason.rawValue)], factory: factory))
        })
    }

    func refused(_ reason: Reason) {
        counters[reason]?.increment()
    }
}
