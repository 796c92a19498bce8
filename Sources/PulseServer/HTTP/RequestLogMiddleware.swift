import Hummingbird
import Logging

/// Logs each request at debug level: method, path and query, status.
///
/// Hummingbird's own request logger writes the whole URI, and a `?token=`
/// in it would put a secret in the logs; here its value is replaced by
/// `<redacted>` (headers are not logged at all, `Authorization` included).
struct RequestLogMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard context.logger.logLevel <= .debug else { return try await next(request, context) }
        let target = Self.redacted(request.uri.path, query: request.uri.query)
        do {
            let response = try await next(request, context)
            context.logger.debug("request", metadata: ["method": "\(request.method)", "target": "\(target)", "status": "\(response.status.code)"])
            return response
        } catch {
            context.logger.debug("request", metadata: ["method": "\(request.method)", "target": "\(target)", "error": "\(error)"])
            throw error
        }
    }

    /// `path?query`, with the value of every `token` parameter replaced.
    static func redacted(_ path: String, query: String?) -> String {
        guard let query, !query.isEmpty else { return path }
        let parameters = query.split(separator: "&", omittingEmptySubsequences: false).map { parameter in
            let name = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            return QueryParameters.decode(name) == "token" ? "token=<redacted>" : String(parameter)
        }
        return path + "?" + parameters.joined(separator: "&")
    }
}
