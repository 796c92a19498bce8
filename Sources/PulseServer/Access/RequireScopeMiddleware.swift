import Hummingbird

/// Refuses requests without a token of `scope`: 401 without a valid token,
/// 403 with one that lacks the scope. `AccessGroup` puts it in front of each
/// of its routes. (WebSocket upgrades are checked before the upgrade too, by
/// `LiveAdmissionHandler`, which can answer them properly.)
struct RequireScopeMiddleware<Context: RequestContext>: RouterMiddleware {
    let scope: AccessScope
    let access: AccessControl
    /// Whether `?token=` counts: only on WebSocket upgrades.
    let acceptsQueryToken: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let queryToken = acceptsQueryToken ? request.uri.queryParameters["token"].map { String($0) } : nil
        if let refusal = access.refusal(scope: scope, path: request.uri.path, authorization: request.headers[.authorization], queryToken: queryToken) {
            throw refusal
        }
        return try await next(request, context)
    }
}
