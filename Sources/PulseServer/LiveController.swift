import Hummingbird
import HummingbirdWebSocket
import NIOCore
import PulseCore
import PulseLive

/// `/ws/metrics`: the live stream over WebSocket.
///
/// The hub writes frames straight into the connection (`WebSocketLiveSink`),
/// which also closes it when the hub asks; this handler reads what the client sends.
struct LiveController {
    let hub: LiveHub
    /// Largest client message read; a larger one closes the connection with 1009.
    let maxMessageBytes: Int
    /// How long a close frame may wait for a peer that stopped reading.
    var closeFrameTimeout: Duration = .seconds(1)

    static let path = "/ws/metrics"

    /// The upgrade route, on the WebSocket router.
    func addRoutes(to router: Router<LiveRequestContext>) {
        router.ws(RouterPath(Self.path)) { request, _ in
            // `LiveAdmissionHandler` has already refused bad parameters and a full hub
            // with a proper answer; these checks only catch a race with other upgrades.
            _ = try LiveRequest(request)
            guard hub.reserveConnection() else { throw APIError(.serviceUnavailable, "") }
            return .upgrade([:])
        } onUpgrade: { inbound, outbound, context in
            try await stream(request: context.request, inbound: inbound, outbound: outbound, channel: context.requestContext.channel)
        }
    }

    /// The same path on the HTTP router answers what the upgrade refused, and why.
    func addRoutes(to router: Router<some RequestContext>) {
        router.get(RouterPath(Self.path)) { request, _ -> Response in
            _ = try LiveRequest(request)
            if request.headers[.upgrade]?.lowercased() == "websocket" {
                throw APIError(.serviceUnavailable, "too many live connections (at most \(hub.configuration.maxConnections)); try again later")
            }
            throw APIError(HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"), "this is a WebSocket endpoint: connect with ws://…\(Self.path)")
        }
    }

    private func stream(request: Request, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async throws {
        let parsed = try LiveRequest(request)
        let sink = WebSocketLiveSink(channel: channel, outbound: outbound, outboxBytes: hub.configuration.outboxBytes, closeFrameTimeout: closeFrameTimeout)
        let subscription = hub.subscribe(sink, filter: parsed.filter, resume: parsed.resume)
        defer { subscription.cancel() }
        // Frames go out through the sink; this task only reads, until the client
        // leaves or the server's close (1001, 1008) has been answered or timed out.
        try await receive(from: inbound, for: subscription)
    }

    private func receive(from inbound: WebSocketInboundStream, for subscription: LiveSubscription) async throws {
        for try await message in inbound.messages(maxSize: maxMessageBytes) {
            guard case let .text(text) = message else {
                subscription.reportError("binary messages are not understood: send JSON text")
                continue
            }
            switch LiveClientMessage.decode(text) {
            case let .success(.subscribe(filter)): subscription.update(filter)
            case let .failure(error): subscription.reportError(error.description)
            }
        }
    }
}
