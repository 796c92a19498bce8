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
    let store: SampleStore
    let limits: IngestLimits
    let metrics: IngestMetrics
    /// Counts refused samples by reason, beside the pipeline's own counts.
    let samplesMetrics: PipelineMetrics

    func addRoutes(to router: some RouterMethods<Context>) {
        router.post("/ingest") { request, context in try await ingest(request, context: context) }
    }

    /// Counts a rejection and gives back the error that answers it.
    private func reject<E: Error>(_ reason: IngestMetrics.Rejection, _ error: E) -> E {
        metrics.rejected(reason)
        return error
    }

    private func ingest(_ request: Request, context: Context) async throws -> Response {
        // The media type is what comes before any parameter (`; version=0.0.4`, `; charset=utf-8`).
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        let isJSON = mediaType == "application/json"
        guard isJSON || mediaType == "text/plain" else {
            throw reject(.unsupportedMediaType, APIError(
                .unsupportedMediaType, "send Content-Type: application/json with {\"samples\":[…]}, or text/plain; version=0.0.4 with Prometheus text"
            ))
        }
        var body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: limits.maxBodyBytes)
        } catch {
            throw reject(.bodyTooLarge, APIError(.contentTooLarge, "the body is larger than \(limits.maxBodyBytes) bytes: split the request"))
        }
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity":
            break
        case "gzip", "x-gzip":  // RFC 9110: x-gzip is gzip
            do {
                body = ByteBuffer(bytes: try GzipBody.inflate(body, limit: limits.maxBodyBytes))
            } catch .tooLarge(let limit) {
                throw reject(.bodyTooLarge, APIError(.contentTooLarge, "the body inflates to more than \(limit) bytes: split the request"))
            } catch .corrupt(let reason) {
                throw reject(.badEncoding, APIError(.badRequest, "the gzip body cannot be read: \(reason)"))
            }
        case let other?:
            throw reject(.badEncoding, APIError(.unsupportedMediaType, "Content-Encoding \(other.prefix(32)) is not supported: send gzip or no encoding"))
        }
        let samples: [Sample]
        let decoded = isJSON
            ? JSONIngest.samples(from: body.readableBytesView, now: Timestamp.now(), maxSamples: limits.maxSamplesPerRequest, validator: pipeline.validator)
            : PrometheusText.samples(from: body.readableBytesView, now: Timestamp.now(), maxSamples: limits.maxSamplesPerRequest, validator: pipeline.validator)
        switch decoded {
        case let .success(decoded): samples = decoded
        case let .failure(rejection):
            if rejection.reason == .invalidSamples {
                samplesMetrics.rejected(Set(rejection.problems.compactMap(\.index)).count, from: .ingest, because: .invalid)
            }
            throw reject(IngestMetrics.Rejection(rejection.reason), IngestError(rejection))
        }
        let keys = Set(samples.map(\.key))
        // The gateway's own names are its own: a pushed `pulsegate_*` series would
        // pass for self-instrumentation at /metrics.
        let reserved = Set(keys.map(\.metric).filter(MetricsCatalog.isReserved))
        if !reserved.isEmpty {
            samplesMetrics.rejected(samples.count, from: .ingest, because: .reservedName)
            throw reject(.reservedName, IngestError(IngestRejection(
                .invalidSamples, "pushed names may not be Pulsegate's own; nothing was stored",
                problems: reserved.sorted().map {
                    IngestProblem(index: nil, field: "metric", reason: "\($0) is reserved: names starting with pulsegate_, and the process_* names the gateway exposes itself, are not accepted from pushes")
                }
            )))
        }
        // Cardinality: checked before anything is queued. Concurrent requests may
        // together overshoot the total by what they add at once.
        let newSeries = store.newSeriesCount(in: keys)
        if newSeries > limits.maxNewSeriesPerRequest {
            samplesMetrics.rejected(samples.count, from: .ingest, because: .tooManyNewSeries)
            throw reject(.tooManyNewSeries, APIError(.badRequest, "\(newSeries) new series in one request, at most \(limits.maxNewSeriesPerRequest) are allowed: send fewer label combinations"))
        }
        if newSeries > 0, store.seriesCount + newSeries > limits.maxSeries {
            samplesMetrics.rejected(samples.count, from: .ingest, because: .seriesLimit)
            throw reject(.seriesLimit, APIError(.badRequest, "the series limit (\(limits.maxSeries)) is reached: \(store.seriesCount) stored, \(newSeries) new in this request; no new series are accepted"))
        }
        do {
            // The parsers validated with `pipeline.validator` as they read.
            try await pipeline.accept(samples, from: .ingest, durability: .committed, validated: true)
        } catch let error as StoreError {
            throw reject(.storeUnavailable, APIError(.serviceUnavailable, "not stored: \(error)"))
        }
        metrics.accepted(samples: samples.count)
        return Response(
            status: .ok,
            headers: [.contentType: "application/json"],
            body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":\#(samples.count)}"#))
        )
    }
}
