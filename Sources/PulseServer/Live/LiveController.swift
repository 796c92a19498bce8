import Hummingbird
import PulseLive

/// `/ws/metrics`: the live stream over WebSocket.
///
/// The upgrade itself is `LiveServerChannel`'s, and the connection after it
/// `LiveConnectionHandler`'s; here are the access the upgrade route declares,
/// and the plain HTTP answers on the same path.
struct LiveController {
    let hub: LiveHub

    static let path = "/ws/metrics"

    /// The upgrade needs the read scope (`?token=` counts: a browser cannot set headers on an upgrade).
    static let access = RouteAccess.scope(.read)

    /// Declares the upgrade route, for `LiveAdmissionHandler`, the upgrade's own check, and `RouteInventory`.
    static func declareUpgrade(in registry: RouteAccessRegistry) {
        registry.declare(access, method: .get, path: path)
    }

    /// The same path on the HTTP router answers what the upgrade refused, and why.
    func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
        router.get(RouterPath(Self.path)) { request, _ -> Response in
            _ = try LiveRequest(request)
            if request.headers[.upgrade]?.lowercased() == "websocket" {
                guard hub.admitsConnection() else {
                    throw APIError(.serviceUnavailable, "too many live connections (at most \(hub.configuration.maxConnections)); try again later")
                }
                throw APIError(.badRequest, "only a connection's first request can be upgraded: open a new connection")
            }
            throw APIError(HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"), "this is a WebSocket endpoint: connect with ws://…\(Self.path)")
        }
    }
}
