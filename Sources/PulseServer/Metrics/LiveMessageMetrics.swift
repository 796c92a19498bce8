import Metrics

/// What live clients sent that was refused, and clients closed for silence,
/// each present from the start at 0:
/// `pulsegate_ws_messages_rejected_total{reason}`, for messages not
/// understood (`malformed`: answered with an error frame, the connection
/// stays), too large (`too_large`: closed with 1009), or frames that break
/// RFC 6455 (`protocol_violation`: closed with 1002 or 1007); and
/// `pulsegate_ws_ping_timeouts_total`, for clients that did not answer a
/// ping within the ping interval.
struct LiveMessageMetrics: Sendable {
    let malformed: Counter
    let tooLarge: Counter
    let protocolViolations: Counter
    let pingTimeouts: Counter

    init(factory: any MetricsFactory) {
        malformed = Counter(label: "pulsegate_ws_messages_rejected_total", dimensions: [("reason", "malformed")], factory: factory)
        tooLarge = Counter(label: "pulsegate_ws_messages_rejected_total", dimensions: [("reason", "too_large")], factory: factory)
        protocolViolations = Counter(label: "pulsegate_ws_messages_rejected_total", dimensions: [("reason", "protocol_violation")], factory: factory)
        pingTimeouts = Counter(label: "pulsegate_ws_ping_timeouts_total", factory: factory)
    }
}
