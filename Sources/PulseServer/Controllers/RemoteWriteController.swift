import Foundation
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
        // remote_write 2.0 names its message in the media type; a 1.0 receiver answers 415,
        // on which a 2.0 sender falls back to 1.0 (the 2.0 spec).
        if let message = Self.protoParameter(request.headers[.contentType]), message != "prometheus.WriteRequest" {
            throw intake.reject(.unsupportedMediaType, APIError(.unsupportedMediaType, "proto=\(message.prefix(64)) is not supported: send remote_write 1.0 (prometheus.WriteRequest)"))
        }
        let batch = try intake.parse(try await intake.body(of: request), with: parser)
        _ = try await intake.accept(batch)
        return Response(status: .noContent)
    }

    /// The `proto` parameter of a content type (`application/x-protobuf;proto=io.prometheus.write.v2.Request`).
    static func protoParameter(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "proto" { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }
}
