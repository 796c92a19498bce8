import Metrics

/// `pulsegate_ws_messages_rejected_total{reason}`: client messages on the
/// live stream that were not understood (`malformed`: answered with an error
/// frame, the connection stays) or too large (`too_large`: the connection is
/// closed with 1009), each present from the start at 0.
struct LiveMessageMetrics: Sendable {
    let malformed: Counter
    let tooLarge: Counter

    init(factory: any MetricsFactory) {
        malformed = Counter(label: "pulsegate_ws_messages_rejected_total", dimensions: [("reason", "malformed")], factory: factory)
        tooLarge = Counter(label: "pulsegate_ws_messages_rejected_total", dimensions: [("reason", "too_large")], factory: factory)
    }
}
