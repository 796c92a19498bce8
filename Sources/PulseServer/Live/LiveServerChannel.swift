import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import PulseLive

/// Each connection of the server: HTTP/1 for Hummingbird's router, or, when
/// its first request is an accepted `/ws/metrics` upgrade, a live connection
/// that NIO alone carries from then on (`LiveConnectionHandler`), without a
/// task: `handle(value:)` returns at once for it.
///
/// In front of the upgrade sit `LiveAdmissionHandler`, which answers refused
/// upgrades properly, `QuiesceBeforeFirstRequestHandler`, so that an unused
/// connection does not hold a shutdown, and `RequestHeadGuard` before the HTTP
/// decoder (with `HTTPParserErrorCatcher` behind it), so that every request
/// head is bounded in size, fields and time, and answered when it is not valid.
struct LiveServerChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        /// Upgraded: the connection belongs to its `LiveConnectionHandler`.
        case live
        case http(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let http1: HTTP1Channel.Configuration
    let live: LiveConnectionSettings
    let access: AccessControl
    /// The access each WebSocket route declared (only `/ws/metrics`).
    let webSocketRoutes: RouteAccessTable
    let origins: OriginPolicy
    let limits: HTTPLimits
    let headMetrics: RequestHeadMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                // NIO's frame handlers, which this sets, are replaced by the live handler at once.
                maxFrameSize: live.maxMessageBytes,
                enableAutomaticErrorHandling: false,
                shouldUpgrade: { channel, head in
                    channel.eventLoop.makeCompletedFuture { acceptUpgrade(head, logger: logger) }
                },
                upgradePipelineHandler: { channel, head in
                    channel.eventLoop.makeCompletedFuture {
                        try startLive(on: channel, head: head)
                        return .live
                    }
                }
            )
            let upgradeConfiguration = NIOTypedHTTPServerUpgradeConfiguration<UpgradeResult>(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let operations = channel.pipeline.syncOperations
                        try operations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try operations.addHandlers(http1.additionalChannelHandlers())
                        try operations.addHandler(HTTPConnectionStateHandler(idleTimeout: http1.idleTimeout.map { .init($0) }, logger: logger))
                        return .http(try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                }
            )
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration(upgradeConfiguration: upgradeConfiguration)
            configuration.enablePipelining = false  // HTTP is pipelined by NIOAsyncChannel
            configuration.enableErrorHandling = false  // RequestHeadGuard and Hummingbird answer errors
            configuration.enableResponseHeaderValidation = false  // Swift HTTP Types validate them
            configuration.decoderConfiguration.maxHeaderFieldSize = http1.httpDecoder.maxHeaderFieldSize
            configuration.decoderConfiguration.maxHeaderListSize = http1.httpDecoder.maxHeaderListSize
            configuration.decoderConfiguration.maxHeaderFieldCount = http1.httpDecoder.maxHeaderFieldCount
            let operations = channel.pipeline.syncOperations
            let upgradeResult = try operations.configureUpgradableHTTPServerPipeline(configuration: configuration)

            // Start reads small: most connections are WebSockets that mostly receive
            // pongs, and each channel keeps its receive buffer between reads.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            let upgradeHandler = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<UpgradeResult>.self)
            try operations.addHandler(QuiesceBeforeFirstRequestHandler(), position: .before(upgradeHandler))
            try operations.addHandler(LiveAdmissionHandler(hub: live.hub, access: access, routes: webSocketRoutes, origins: origins), position: .before(upgradeHandler))
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let headGuard = RequestHeadGuard(limits: limits, metrics: headMetrics)
            try operations.addHandler(headGuard, position: .before(decoder))
            try operations.addHandler(HTTPParserErrorCatcher(reportingTo: headGuard), position: .after(decoder))
            return Value(upgradeResult: upgradeResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.upgradeResult.get() {
            case .live:
                return  // the channel's handler carries it from here
            case let .http(http):
                await handleHTTP(asyncChannel: http, logger: logger)
            }
        } catch let error as ChannelError where error == .inputClosed {
            logger.trace("the client left before its first request was read")
        } catch {
            logger.debug("connection ended during its first request", metadata: ["error": "\(error)"])
        }
    }

    /// The headers of the 101, or nil to leave the request to the HTTP router.
    /// `LiveAdmissionHandler` has already answered bad parameters, a missing
    /// token and a full hub; these checks fail closed, and catch a race with
    /// other upgrades for the last place.
    private func acceptUpgrade(_ head: HTTPRequestHead, logger: Logger) -> HTTPHeaders? {
        let uri = URI(head.uri)
        guard uri.path == LiveController.path, let declared = webSocketRoutes.access(method: .get, path: uri.path),
              LiveAdmissionHandler.accessRefusal(head, uri: uri, declared: declared, access: access) == nil,
              (try? LiveRequest(uri: uri)) != nil, live.hub.reserveConnection()
        else { return nil }
        if logger.logLevel <= .debug {
            logger.debug("request", metadata: ["method": "GET", "target": "\(RequestLogMiddleware<BasicRequestContext>.redacted(uri.path, query: uri.query))", "status": "101"])
        }
        var headers = HTTPHeaders()
        if negotiatesDeflate(head) {
            headers.add(name: "Sec-WebSocket-Extensions", value: PerMessageDeflate.response)
        }
        return headers
    }

    /// After the 101: the live handler takes the connection. NIO's frame
    /// decoder and the HTTP-only handlers leave; its frame encoder cannot be
    /// removed, so the live handler goes in front of it, where its writes
    /// pass straight to the socket and the encoder never sees one.
    private func startLive(on channel: any Channel, head: HTTPRequestHead) throws {
        let operations = channel.pipeline.syncOperations
        let encoder = try operations.handler(type: WebSocketFrameEncoder.self)
        for removable in [
            try operations.handler(type: ByteToMessageHandler<WebSocketFrameDecoder>.self) as any RemovableChannelHandler,
            try operations.handler(type: RequestHeadGuard.self),
            try operations.handler(type: HTTPParserErrorCatcher.self),
        ] {
            operations.removeHandler(context: try operations.context(handler: removable), promise: nil)
        }
        let handler = LiveConnectionHandler(request: try LiveRequest(uri: URI(head.uri)), compressed: negotiatesDeflate(head), settings: live, eventLoop: channel.eventLoop)
        try operations.addHandler(handler, position: .before(encoder))
        handler.subscribe()
    }
}

extension LiveServerChannel {
    /// Whether the upgrade gets permessage-deflate: compression is on and the client offered it acceptably.
    /// (Asked for the 101's headers, and again for the handler, of the same request head.)
    func negotiatesDeflate(_ head: HTTPRequestHead) -> Bool {
        live.deflate != nil && PerMessageDeflate.accepts(offers: head.headers[canonicalForm: "sec-websocket-extensions"].map(String.init))
    }
}

extension HTTPServerBuilder {
    /// HTTP/1 with the live stream's WebSocket upgrade (`LiveServerChannel`).
    static func http1Live(
        http1: HTTP1Channel.Configuration,
        live: LiveConnectionSettings,
        access: AccessControl,
        webSocketRoutes: RouteAccessTable,
        origins: OriginPolicy,
        limits: HTTPLimits,
        headMetrics: RequestHeadMetrics
    ) -> HTTPServerBuilder {
        HTTPServerBuilder { responder in
            LiveServerChannel(
                responder: responder, http1: http1, live: live, access: access, webSocketRoutes: webSocketRoutes,
                origins: origins, limits: limits, headMetrics: headMetrics
            )
        }
    }
}
