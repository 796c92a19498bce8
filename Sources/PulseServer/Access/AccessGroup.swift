import HTTPTypes
import Hummingbird

/// A group of routes that all need the same access, declared where they are
/// registered: its routes pass `RequireScopeMiddleware` for the scope (none
/// for `.open`), and each is recorded in `registry`, for the WebSocket
/// admission and for `RouteInventory`, which refuses a router with a route
/// registered outside every group. A controller's `addRoutes(to:)` takes one
/// as `some RouterMethods<Context>`.
struct AccessGroup<Context: RequestContext>: RouterMethods {
    let access: RouteAccess
    private let registry: RouteAccessRegistry
    private let group: RouterGroup<Context>

    /// `acceptsQueryToken`: whether `?token=` counts, as on a WebSocket upgrade
    /// (a browser cannot set headers on one); never for plain HTTP.
    init(_ access: RouteAccess, on parent: some RouterMethods<Context>, control: AccessControl, registry: RouteAccessRegistry, acceptsQueryToken: Bool = false) {
        self.access = access
        self.registry = registry
        let group = parent.group()
        if case let .scope(scope) = access {
            group.add(middleware: RequireScopeMiddleware<Context>(scope: scope, access: control, acceptsQueryToken: acceptsQueryToken))
        }
        self.group = group
    }

    @discardableResult func on<Responder: HTTPResponder>(
        _ path: RouterPath, method: HTTPRequest.Method, responder: Responder
    ) -> Self where Responder.Context == Context {
        registry.declare(access, method: method, path: path.description)
        group.on(path, method: method, responder: responder)
        return self
    }

    @discardableResult func add(middleware: any MiddlewareProtocol<Request, Response, Context>) -> Self {
        group.add(middleware: middleware)
        return self
    }
}
