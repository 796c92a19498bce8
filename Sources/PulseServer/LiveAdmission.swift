import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import PulseLive

/// Refuses live upgrades that cannot be served with a proper HTTP answer.
///
/// Hummingbird answers any refused WebSocket upgrade with an empty 400. This
/// handler sits in front of the upgrade: a `/ws/metrics` upgrade with bad
/// parameters gets a 400, and one beyond the connection limit a 503, each with
/// a JSON body that says why. Anything else passes, and the handler leaves the
/// pipeline after the first request (only a first request can upgrade).
final class LiveAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: LiveHub
    private var refusal: APIError?

    init(hub: LiveHub) {
        self.hub = hub
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let refusal {
            if case .end = part { respond(refusal, context: context) }
            return
        }
        guard case let .head(head) = part else {
            context.fireChannelRead(data)
            return
        }
        if let refusal = decide(head) {
            self.refusal = refusal
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func decide(_ head: HTTPRequestHead) -> APIError? {
        let uri = URI(head.uri)
        guard uri.path == LiveController.path,
              head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" })
        else { return nil }
        do {
            _ = try LiveRequest(uri: uri)
        } catch {
            return error
        }
        guard hub.admitsConnection() else {
            return APIError(.serviceUnavailable, "too many live connections (at most \(hub.configuration.maxConnections)); try again later")
        }
        return nil
    }

    private func respond(_ error: APIError, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: #"{"error":"# + Self.jsonString(error.message) + "}")
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        headers.add(name: "connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: Int(error.status.code)), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private static func jsonString(_ text: String) -> String {
        let data = (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

/// Hummingbird's HTTP/1 + WebSocket channel with `LiveAdmissionHandler` in front of its upgrade,
/// and `QuiesceBeforeFirstRequestHandler` so that an unused connection does not hold a shutdown.
struct LiveAdmittingChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let upgradeChannel: HTTP1WebSocketUpgradeChannel
    let hub: LiveHub

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        upgradeChannel.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Start reads small: most connections are WebSockets that mostly receive
            // pongs, and each channel keeps its receive buffer between reads.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            let operations = channel.pipeline.syncOperations
            let upgrader = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            try operations.addHandler(QuiesceBeforeFirstRequestHandler(), position: .before(upgrader))
            try operations.addHandler(LiveAdmissionHandler(hub: hub), position: .before(upgrader))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await upgradeChannel.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with WebSocket upgrades through `webSocketRouter`, refusing live upgrades properly.
    static func http1LiveWebSocket(
        webSocketRouter: Router<LiveRequestContext>,
        configuration: HTTP1WebSocketUpgradeChannel.Configuration,
        hub: LiveHub
    ) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            LiveAdmittingChannel(
                upgradeChannel: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                hub: hub
            )
        }
    }
}
