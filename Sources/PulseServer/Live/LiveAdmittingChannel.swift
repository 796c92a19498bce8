import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1
import PulseLive

/// Hummingbird's HTTP/1 + WebSocket channel with `LiveAdmissionHandler` in front of its upgrade,
/// `QuiesceBeforeFirstRequestHandler` so that an unused connection does not hold a shutdown, and
/// `RequestHeadGuard` in front of the HTTP decoder (with `HTTPParserErrorCatcher` behind it) so that
/// every request head is bounded in size, fields and time, and answered when it is not valid.
struct LiveAdmittingChannel: ServerChildChannel {
    typealias Value = HTTP1WebSocketUpgradeChannel.Value

    let upgradeChannel: HTTP1WebSocketUpgradeChannel
    let hub: LiveHub
    let access: AccessControl
    let webSocketRoutes: RouteAccessTable
    let origins: OriginPolicy
    let limits: HTTPLimits
    let headMetrics: RequestHeadMetrics

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        upgradeChannel.setup(channel: channel, logger: logger).flatMapThrowing { value in
            // Start reads small: most connections are WebSockets that mostly receive
            // pongs, and each channel keeps its receive buffer between reads.
            try channel.syncOptions?.setOption(ChannelOptions.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 512, maximum: 65_536))
            let operations = channel.pipeline.syncOperations
            let upgrader = try operations.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            try operations.addHandler(QuiesceBeforeFirstRequestHandler(), position: .before(upgrader))
            try operations.addHandler(LiveAdmissionHandler(hub: hub, access: access, routes: webSocketRoutes, origins: origins), position: .before(upgrader))
            let decoder = try operations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            let headGuard = RequestHeadGuard(limits: limits, metrics: headMetrics)
            let parserErrors = HTTPParserErrorCatcher(reportingTo: headGuard)
            try operations.addHandler(headGuard, position: .before(decoder))
            try operations.addHandler(parserErrors, position: .after(decoder))
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
        hub: LiveHub,
        access: AccessControl,
        webSocketRoutes: RouteAccessTable,
        origins: OriginPolicy,
        limits: HTTPLimits,
        headMetrics: RequestHeadMetrics
    ) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            LiveAdmittingChannel(
                upgradeChannel: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: configuration),
                hub: hub, access: access, webSocketRoutes: webSocketRoutes, origins: origins, limits: limits, headMetrics: headMetrics
            )
        }
    }
}
