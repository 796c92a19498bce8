import Hummingbird
import Prometheus

/// `GET /metrics`: the gateway's own instrumentation in Prometheus text format 0.0.4.
struct MetricsController<Context: RequestContext> {
    let registry: PrometheusCollectorRegistry

    func addRoutes(to router: Router<Context>) {
        router.get("/metrics") { _, _ in
            var text: [UInt8] = []
            text.reserveCapacity(16 * 1024)
            registry.emit(into: &text)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: text))
            )
        }
    }
}
