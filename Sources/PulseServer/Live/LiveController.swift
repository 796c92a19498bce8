import Hummingbird
import HummingbirdWebSocket
import Metrics
import NIOCore
import NIOWebSocket
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
    let metrics: LiveMessageMetrics
    /// How long the close handshake may take (the frame written, the peer's answer)
    /// before the connection is dropped.
    var closeFrameTimeout: Duration = .seconds(1)

    static let path = "/ws/metrics"

    /// The upgrade route, on the WebSocket router.
    func addRoutes(to router: some RouterMethods<LiveRequestContext>) {
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
    func addRoutes<Context: RequestContext>(to router: some RouterMethods<Context>) {
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
        // One frame beyond the limit never reaches this task: NIO's frame decoder refuses
        // it and the connection closes with 1009. A handler beside the decoder counts it.
        let tooLarge = metrics.tooLarge
        try? await channel.eventLoop.submit {
            let operations = channel.pipeline.syncOperations
            let decoder = try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self)
            try operations.addHandler(FrameTooLargeCounter(counter: tooLarge), position: .after(decoder))
        }.get()
        let sink = WebSocketLiveSink(channel: channel, outbound: outbound, outboxBytes: hub.configuration.outboxBytes, closeFrameTimeout: closeFrameTimeout)
        let earlier = await hub.earlierBatches(for: parsed.resume)
        let subscription = hub.subscribe(sink, filter: parsed.filter, resume: parsed.resume, earlier: earlier)
        defer { subscription.cancel() }
        // Frames go out through the sink; this task only reads, until the client
        // leaves or the server's close (1001, 1008) has been answered or timed out.
        try await receive(from: inbound, for: subscription)
    }

    private func receive(from inbound: WebSocketInboundStream, for subscription: LiveSubscription) async throws {
        do {
            for try await message in inbound.messages(maxSize: maxMessageBytes) {
                guard case let .text(text) = message else {
                    metrics.malformed.increment()
                    subscription.reportError("binary messages are not understood: send JSON text")
                    continue
                }
                switch LiveClientMessage.decode(text) {
                case let .success(.subscribe(filter)): subscription.update(filter)
                case let .failure(error):
                    metrics.malformed.increment()
                    subscription.reportError(error.description)
                }
            }
        } catch {
            // A message of several frames, together too large: swift-websocket closes
            // with 1009 and ends the stream with an error of its own, internal type,
            // which only its name tells. (One frame too large: `FrameTooLargeCounter`.)
            if String(describing: error).contains("messageTooLarge") { metrics.tooLarge.increment() }
            throw error
        }
    }
}
