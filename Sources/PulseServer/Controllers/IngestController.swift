import Foundation
import Hummingbird
import PulseCore
import PulseStore

/// `POST /ingest`: pushed samples (JSON, or Prometheus text), stored and broadcast like the collector's.
///
/// A request is all or nothing: any invalid sample refuses it with a 400 that
/// lists every problem, and nothing of it is stored or broadcast. The answer
/// comes only after the samples are committed (concurrent requests share one
/// commit), so a 2xx means durable.
struct IngestController<Context: RequestContext> {
    let pipeline: Pipeline
    let parsers: IngestParsers
    let limits: IngestLimits
    let metrics: IngestMetrics
    /// What a 503 tells a client to wait before it retries: about the store's retry pace.
    static var retryAfterSeconds: String { "1" }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/ingest") { request, context in try await ingest(request, context: context) }
    }

    /// Counts a rejection and gives back the error that answers it.
    private func reject<E: Error>(_ reason: IngestMetrics.Rejection, _ error: E) -> E {
        metrics.rejected(reason)
        return error
    }

    private func ingest(_ request: Request, context: Context) async throws -> Response {
        guard let parser = parsers.parser(forContentType: request.headers[.contentType]) else {
            throw reject(.unsupportedMediaType, APIError(.unsupportedMediaType, "send " + parsers.parsers.map { "Content-Type: \($0.mediaTypes[0]) (\($0.name))" }.joined(separator: " or ")))
        }
        var key: IdempotencyKey?
        if let text = request.headers[.idempotencyKey] {
            guard let valid = IdempotencyKey(text) else {
                throw reject(.badIdempotencyKey, APIError(.badRequest, "Idempotency-Key must be 1 to \(IdempotencyKey.maxLength) visible ASCII characters (a UUID, say)"))
            }
            key = valid
        }
        let body = try await decodedBody(request)
        let batch: ValidatedBatch
        switch pipeline.parse(body.readableBytesView, with: parser, from: .ingest, now: Timestamp.now(), maxSamples: limits.maxSamplesPerRequest) {
        case let .success(parsed): batch = parsed
        case let .failure(rejection): throw reject(IngestMetrics.Rejection(rejection.reason), IngestError(rejection))
        }
        var headers: HTTPFields = [.contentType: "application/json"]
        do {
            if let key {
                if case let .duplicate(accepted) = try await pipeline.accept(batch, from: .ingest, idempotencyKey: key) {
                    // Sent before and stored then: the first answer again, nothing stored twice.
                    headers[.idempotentReplayed] = "true"
                    return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":\#(accepted)}"#)))
                }
            } else {
                try await pipeline.accept(batch, from: .ingest, durability: .committed)
            }
        } catch let refusal as SeriesRefusal {
            throw reject(IngestMetrics.Rejection(refusal), Self.error(for: refusal))
        } catch let error as any StoreUnavailableError {
            // Nothing was stored: the client may send the same request again.
            throw reject(.storeUnavailable, APIError(.serviceUnavailable, "not stored: \(error)", headers: [.retryAfter: Self.retryAfterSeconds]))
        }
        metrics.accepted(samples: batch.count)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":\#(batch.count)}"#)))
    }

    /// The body, inflated when it comes gzipped, bounded by `maxBodyBytes` before and after.
    private func decodedBody(_ request: Request) async throws -> ByteBuffer {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch {
            throw reject(.bodyTooLarge, APIError(.contentTooLarge, "the body is larger than \(limits.maxBodyBytes) bytes: split the request"))
        }
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity":
            return body
        case "gzip", "x-gzip":  // RFC 9110: x-gzip is gzip
            do {
                return ByteBuffer(bytes: try Inflate.inflate(Array(body.readableBytesView), .gzip, limit: limits.maxBodyBytes))
            } catch .tooLarge(let limit) {
                throw reject(.bodyTooLarge, APIError(.contentTooLarge, "the body inflates to more than \(limit) bytes: split the request"))
            } catch .corrupt(let reason) {
                throw reject(.badEncoding, APIError(.badRequest, "the gzip body cannot be read: \(reason)"))
            }
        case let other?:
            throw reject(.badEncoding, APIError(.unsupportedMediaType, "Content-Encoding \(other.prefix(32)) is not supported: send gzip or no encoding"))
        }
    }

    /// A refused push as a 400: reserved names listed as problems, one per name.
    private static func error(for refusal: SeriesRefusal) -> any Error {
        guard case let .reservedNames(names, explanation) = refusal else { return APIError(.badRequest, refusal.description) }
        return IngestError(IngestRejection(
            .invalidSamples, "pushed names may not be Pulsegate's own; nothing was stored",
            problems: names.map { IngestProblem(index: nil, field: "metric", reason: "\($0) is reserved: \(explanation)") }
        ))
    }
}
