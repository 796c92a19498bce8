import Hummingbird
import PulseCore

/// `POST /api/v1/write`: Prometheus remote_write 1.0, a snappy-compressed
/// protobuf `WriteRequest` (see `RemoteWriteParser` for what is stored of it).
///
/// The answers are the ones a sender's retry logic expects: 204 once the
/// samples are committed (the same group commit as `/ingest`); 4xx, with the
/// reason in the body, for a request that can never succeed, which the sender
/// drops; 5xx only when the same request can succeed later (the store cannot
/// take it now), which the sender retries.
struct RemoteWriteController<Context: RequestContext> {
    let intake: PushIntake

    init(pipeline: Pipeline, limits: IngestLimits, metrics: IngestMetrics) {
        // One key cache for every sender: their series' label sets repeat request after request.
        intake = PushIntake(pipeline: pipeline, parsers: IngestParsers([RemoteWriteParser(cache: SeriesKeyCache())]), limits: limits, metrics: metrics, source: .remoteWrite)
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/api/v1/write") { request, _ in try await write(request) }
    }

    private func write(_ request: Request) async throws -> Response {
        let parser = try intake.parser(for: request)
        let batch = try intake.parse(try await intake.body(of: request), with: parser)
        _ = try await intake.accept(batch)
        return Response(status: .noContent)
    }
}
