import Hummingbird
import Metrics
import Synchronization

/// `pulsegate_http_requests_total{route,method,status}` and
/// `pulsegate_http_request_duration_seconds{route,method}`, timed from the
/// request's head to the last byte of its response.
///
/// `route` is the matched route's path (`/history`; never the request's own
/// path, which would let clients mint series at will), `static` for the
/// dashboard's files and `unmatched` for everything else (404s, 405s). First in the
/// middleware chain, so that every answer is counted, errors included.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    private let handlers: HandlerCache

    init(factory: any MetricsFactory) {
        handlers = HandlerCache(factory: factory)
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        do {
            var response = try await next(request, context)
            let status = response.status.code
            let body = response.body
            let record: @Sendable () -> Void = { [handlers] in
                handlers.record(route: Self.route(context, status: status), method: request.method, status: status, duration: ContinuousClock.now - started)
            }
            // Recorded once the body is written (or failed to be), not when the handler returns.
            response.body = ResponseBody(contentLength: body.contentLength) { writer in
                do {
                    try await body.write(writer)
                    record()
                } catch {
                    record()
                    throw error
                }
            }
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status.code ?? 500
            handlers.record(route: Self.route(context, status: status), method: request.method, status: status, duration: ContinuousClock.now - started)
            throw error
        }
    }

    private static func route(_ context: Context, status: Int) -> String {
        // Hummingbird's names for "no route": the router's and the file middleware's.
        switch context.endpointPath {
        case "FileMiddleware": return "static"
        case nil, "NotFound": return "unmatched"
        case let path?: return path
        }
    }

    /// The counters and histograms made so far, by their labels: making one goes
    /// through the registry's lock and a lookup, which a request need not pay twice.
    final class HandlerCache: Sendable {
        private struct Key: Hashable {
            let route: String
            let method: String
            let status: Int
        }

        private let factory: any MetricsFactory
        private let cache = Mutex<[Key: (Counter, Metrics.Timer)]>([:])

        init(factory: any MetricsFactory) {
            self.factory = factory
        }

        /// Methods beyond the standard ones are one label value: a client must not mint series.
        private let knownMethods: Set<String> = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"]

        func record(route: String, method: HTTPRequest.Method, status: Int, duration: Duration) {
            let key = Key(route: route, method: knownMethods.contains(method.rawValue) ? method.rawValue : "other", status: status)
            let (counter, timer) = cache.withLock { cache in
                if let known = cache[key] { return known }
                let made = (
                    Counter(label: "pulsegate_http_requests_total", dimensions: [("route", route), ("method", key.method), ("status", String(status))], factory: factory),
                    Metrics.Timer(label: "pulsegate_http_request_duration_seconds", dimensions: [("route", route), ("method", key.method)], factory: factory)
                )
                cache[key] = made
                return made
            }
            counter.increment()
            timer.record(duration: duration)
        }
    }
}
