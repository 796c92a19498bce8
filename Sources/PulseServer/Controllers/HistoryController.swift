import Foundation
import Hummingbird
import NIOCore
import PulseCore

/// `GET /history` (stored samples, raw or downsampled) and `GET /api/series` (what is known).
struct HistoryController<Context: RequestContext, Store: SampleReader> {
    let store: Store
    let limits: QueryLimits
    let metrics: QueryMetrics

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/history") { request, _ in
            do {
                return try await history(request)
            } catch let error as APIError {
                metrics.rejected(error.bound ?? "bad_parameter")
                throw error
            }
        }
        router.get("/api/series") { request, _ in try await series(request) }
    }

    private func history(_ request: Request) async throws -> Response {
        let now = Timestamp.now()
        let query = try HistoryRequest(uri: request.uri, now: now, limits: limits)
        // Read before querying: everything up to here is in what the query sees. A
        // source stamps its samples a moment before it hands them over (the collector
        // reads /proc in between), and such a sample is in no queue yet: the grace
        // keeps `complete_until` behind it. A client resuming the live stream from
        // there is sent those samples again, and drops what it already has by ts.
        let completeUntil = min(query.to, store.committedThrough(now: now - HandoverGrace.milliseconds))
        let series: [SeriesPoints]
        if let step = query.step {
            series = try await store.downsample(query.selector, from: query.from, to: query.to, step: step, aggregation: query.aggregation)
        } else {
            series = try await store.range(query.selector, from: query.from, to: query.to, limit: limits.maxPoints + 1)
            if let crowded = series.first(where: { $0.points.count > limits.maxPoints }) {
                let step = (query.to - query.from) / Int64(limits.maxPoints - 1) + 1
                throw APIError(.badRequest, "exceeded maximum resolution of \(limits.maxPoints) points per series (\(crowded.key) has more raw points): add step=\(DurationText.format(milliseconds: step)) or narrow from/to", bound: "too_many_points")
            }
        }
        guard series.count <= limits.maxSeries else {
            throw APIError(.badRequest, "\(series.count) series match, at most \(limits.maxSeries) may be returned: add label matchers", bound: "too_many_series")
        }
        if request.headers[.accept]?.contains("text/csv") == true {
            return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: HistoryEncoding.csv(series))))
        }
        let body = HistoryEncoding.json(query: query, completeUntil: completeUntil, series: series)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private func series(_ request: Request) async throws -> Response {
        let prefix = try QueryParameters(request.uri.query).value("prefix") ?? ""
        guard prefix.utf8.count <= SampleLimits.default.maxMetricNameLength,
              prefix.isEmpty || SampleValidator.isValidName(prefix, allowColon: true)
        else { throw APIError(.badRequest, "prefix must be the start of a metric name: [a-zA-Z_:][a-zA-Z0-9_:]*") }
        let found = try await store.catalog(prefix: prefix, limit: limits.maxSeries * 10)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: HistoryEncoding.catalog(found))))
    }
}
