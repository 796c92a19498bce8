import Hummingbird
import Prometheus
import PulseCore

/// `GET /metrics`: Prometheus text format 0.0.4. First the gateway's own
/// instrumentation (swift-prometheus), then the latest value of every live
/// series and the Pushgateway API's groups, family by family.
struct MetricsController<Context: RequestContext> {
    let registry: PrometheusCollectorRegistry
    let scrapeTime: ScrapeTimeMetrics
    let latestValues: LatestValues
    let pushGroups: PushGroups

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/metrics") { _, _ in
            var latest: [UInt8] = []
            latest.reserveCapacity(64 * 1024)
            let pushed = pushGroups.exposition()
            let exposed = latestValues.emit(into: &latest, with: pushed, held: pushGroups.heldSeries())
            scrapeTime.refresh(exposedSeries: exposed, pushGroups: pushGroups.count)
            var text: [UInt8] = []
            text.reserveCapacity(16 * 1024 + latest.count)
            registry.emit(into: &text)
            text += latest
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text))
            )
        }
    }
}
