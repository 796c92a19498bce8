import Foundation
import Hummingbird
import PulseCore

/// What every push endpoint does with a request (`POST /ingest`,
/// `POST /api/v1/write`): reads the body within its bound, undoes its content
/// encoding, reads it with the parser its media type picks, and hands the
/// batch to the pipeline; every refusal is answered and counted here, by
/// reason, in the endpoint's own counters. The endpoints differ only in the
/// formats they take and the answer they give.
struct PushIntake: Sendable {
    let pipeline: Pipeline
    let parsers: IngestParsers
    let limits: IngestLimits
    let metrics: IngestMetrics
    let source: SampleSource
    /// What a 503 tells a client to wait before it retries: about the store's retry pace.
    static var retryAfterSeconds: String { "1" }

    /// Counts a rejection and gives back the error that answers it.
    func reject<E: Error>(_ reason: IngestMetrics.Rejection, _ error: E) -> E {
        metrics.rejected(reason)
        return error
    }

    /// The parser for the request's `Content-Type`; a 415 naming the accepted ones otherwise.
    func parser(for request: Request) throws -> any IngestParser {
        guard let parser = parsers.parser(forContentType: request.headers[.contentType]) else {
            throw reject(.unsupportedMediaType, APIError(.unsupportedMediaType, "send " + parsers.parsers.map { "Content-Type: \($0.mediaTypes[0]) (\($0.name))" }.joined(separator: " or ")))
        }
        return parser
    }

    /// The body, decoded when it comes gzipped or snappy-compressed, bounded by `maxBodyBytes` before and after.
    func body(of request: Request) async throws -> ByteBuffer {
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
        case "snappy":  // the block format, as remote_write sends it
            do {
                return ByteBuffer(bytes: try Snappy.decompress(body.readableBytesView, limit: limits.maxBodyBytes))
            } catch .tooLarge(let limit) {
                throw reject(.bodyTooLarge, APIError(.contentTooLarge, "the body decompresses to more than \(limit) bytes: split the request"))
            } catch .corrupt(let reason) {
                throw reject(.badEncoding, APIError(.badRequest, "the snappy body cannot be read: \(reason)"))
            }
        case let other?:
            throw reject(.badEncoding, APIError(.unsupportedMediaType, "Content-Encoding \(other.prefix(32)) is not supported: send gzip, snappy or no encoding"))
        }
    }

    /// The body's batch, or a 400 that names every problem.
    func parse(_ body: ByteBuffer, with parser: any IngestParser) throws -> ValidatedBatch {
        switch pipeline.parse(body.readableBytesView, with: parser, from: source, now: Timestamp.now(), maxSamples: limits.maxSamplesPerRequest) {
        case let .success(batch): return batch
        case let .failure(rejection): throw reject(IngestMetrics.Rejection(rejection.reason), IngestError(rejection))
        }
    }

    /// Stores the batch (committed when this returns) and publishes it; once per
    /// `idempotencyKey` when one is given. A refusal of its series is a 400; a
    /// store that cannot take it now is a 503 that asks for a retry.
    func accept(_ batch: ValidatedBatch, idempotencyKey key: IdempotencyKey? = nil) async throws -> WriteReceipt {
        let receipt: WriteReceipt
        do {
            if let key {
                receipt = try await pipeline.accept(batch, from: source, idempotencyKey: key)
            } else {
                try await pipeline.accept(batch, from: source, durability: .committed)
                receipt = .stored
            }
        } catch let refusal as SeriesRefusal {
            throw reject(IngestMetrics.Rejection(refusal), Self.error(for: refusal))
        } catch let error as any StoreUnavailableError {
            // Nothing was stored: the client may send the same request again.
            throw reject(.storeUnavailable, APIError(.serviceUnavailable, "not stored: \(error)", headers: [.retryAfter: Self.retryAfterSeconds]))
        }
        if receipt == .stored { metrics.accepted(batch) }
        return receipt
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
