import Hummingbird

/// Refuses HTTP requests without the token their route needs: 401 without a
/// valid token, 403 with one that lacks the scope. (WebSocket upgrades are
/// checked before the upgrade, by `LiveAdmissionHandler`, which also reads
/// `?token=`; here a token in the query is never looked at.)
struct AccessMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let refusal = access.refusal(path: request.uri.path, authorization: request.headers[.authorization]) {
            throw refusal
        }
        return try await next(request, context)
    }
}
