import Foundation
import Hummingbird
import PulseCore

/// `POST /ingest`: pushed samples (JSON, or Prometheus text), stored and broadcast like the collector's.
///
/// A request is all or nothing: any invalid sample refuses it with a 400 that
/// lists every problem, and nothing of it is stored or broadcast. The answer
/// comes only after the samples are committed (concurrent requests share one
/// commit), so a 2xx means durable.
struct IngestController<Context: RequestContext> {
    let intake: PushIntake

    init(pipeline: Pipeline, parsers: IngestParsers, limits: IngestLimits, metrics: IngestMetrics) {
        intake = PushIntake(pipeline: pipeline, parsers: parsers, limits: limits, metrics: metrics, source: .ingest)
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/ingest") { request, context in try await ingest(request, context: context) }
    }

    private func ingest(_ request: Request, context: Context) async throws -> Response {
        let parser = try intake.parser(for: request)
        var key: IdempotencyKey?
        if let text = request.headers[.idempotencyKey] {
            guard let valid = IdempotencyKey(text) else {
                throw intake.reject(.badIdempotencyKey, APIError(.badRequest, "Idempotency-Key must be 1 to \(IdempotencyKey.maxLength) visible ASCII characters (a UUID, say)"))
            }
            key = valid
        }
        let batch = try intake.parse(try await intake.body(of: request), with: parser)
        var headers: HTTPFields = [.contentType: "application/json"]
        var accepted = batch.count
        if case let .duplicate(first) = try await intake.accept(batch, idempotencyKey: key) {
            // Sent before and stored then: the first answer again, nothing stored twice.
            headers[.idempotentReplayed] = "true"
            accepted = first
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":\#(accepted)}"#)))
    }
}
