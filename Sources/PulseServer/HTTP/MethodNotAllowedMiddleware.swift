import HTTPTypes
import Hummingbird

/// A path the router serves, asked with a method it does not serve, gets 405 and
/// an `Allow` header that lists the methods it does (RFC 9110, 15.5.6), where the
/// router alone would answer 404 as if the path did not exist.
///
/// Add it to the router after every route (see `buildRouter`): it reads the
/// finished route list, and then it sees only requests that no route matched.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// The methods served at each path, by `normalized` path.
    private let allowed: [String: [HTTPRequest.Method]]
    /// The methods served under paths that end in `**` (the Pushgateway API's), by the prefix before it.
    private let allowedUnder: [String: [HTTPRequest.Method]]

    init(routes: [Router<Context>.RouteDescription]) {
        var allowed: [String: [HTTPRequest.Method]] = [:]
        var allowedUnder: [String: [HTTPRequest.Method]] = [:]
        for route in routes {
            let path = Self.normalized(route.path.description)
            if path.hasSuffix("/**") {
                allowedUnder[String(path.dropLast(2)), default: []].append(route.method)
            } else {
                allowed[path, default: []].append(route.method)
            }
        }
        self.allowed = allowed
        self.allowedUnder = allowedUnder
    }

    private func methods(at path: String) -> [HTTPRequest.Method]? {
        let path = Self.normalized(path)
        return allowed[path] ?? allowedUnder.first { path.hasPrefix($0.key) && path.count > $0.key.count }?.value
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let methods = methods(at: request.uri.path), !methods.contains(request.method) else { throw error }
            let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
            throw APIError(
                .methodNotAllowed,
                "\(request.method.rawValue.prefix(32)) is not served at \(request.uri.path.prefix(64)): use \(allow)",
                headers: [.allow: allow]
            )
        }
    }

    /// The router matches `/healthz/` as `/healthz`: empty segments do not count.
    private static func normalized(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
