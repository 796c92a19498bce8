import Metrics
import Prometheus

/// The gateway's own instrumentation, exposed at `GET /metrics`.
///
/// Each gateway has its own registry and swift-metrics factory rather than the
/// process-wide `MetricsSystem`: tests run many gateways in one process, and
/// each must count only its own requests.
public struct GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    let factory: CatalogedMetricsFactory
    let ingest: IngestMetrics
    let remoteWrite: IngestMetrics
    let pushgateway: IngestMetrics
    /// Push groups that expired (`--push-group-ttl`, `Pulsegate-Group-TTL`).
    let pushGroupsExpired: Metrics.Counter
    let pipeline: PipelineMetrics
    let query: QueryMetrics
    let liveMessages: LiveMessageMetrics
    let requestHeads: RequestHeadMetrics

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = CatalogedMetricsFactory(registry: registry)
        ingest = IngestMetrics(factory: factory)
        remoteWrite = IngestMetrics(factory: factory, endpoint: "remote_write", skips: true)
        pushgateway = IngestMetrics(factory: factory, endpoint: "pushgateway", skips: true)
        pushGroupsExpired = Metrics.Counter(label: "pulsegate_push_groups_expired_total", factory: factory)
        pipeline = PipelineMetrics(factory: factory)
        query = QueryMetrics(factory: factory)
        liveMessages = LiveMessageMetrics(factory: factory)
        requestHeads = RequestHeadMetrics(factory: factory)
    }
}
