/// Who may call a route, declared where the route is registered (an
/// `AccessGroup`): anyone, or the holders of a token with a scope.
enum RouteAccess: Hashable, Sendable, CustomStringConvertible {
    /// No token needed: only for what holds no data (probes, the API's description).
    case open
    case scope(AccessScope)

    /// The only routes that may be open; a route declared open and not listed
    /// here is a problem for `RouteInventory` (and the gateway does not start).
    /// The dashboard's files are no routes: `FileMiddleware` serves them for
    /// requests no route matched.
    static let publicPaths: Set<String> = ["/healthz", "/readyz", "/openapi.json"]

    var description: String {
        switch self {
        case .open: "open"
        case let .scope(scope): "scope \(scope.rawValue)"
        }
    }
}
