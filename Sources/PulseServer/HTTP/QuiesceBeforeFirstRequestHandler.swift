import NIOCore
import NIOHTTP1

/// Closes a connection that has not sent a request yet when the server starts
/// a graceful shutdown.
///
/// Hummingbird's handler that answers a shutdown (`ChannelShouldQuiesceEvent`)
/// by closing idle connections joins the pipeline only once the first request
/// has shown it is not a WebSocket upgrade. Before that, nothing heeds the
/// event, and a connection opened but never used (a browser's preconnect, a
/// port probe, a client that lost a race) would hold the shutdown forever.
/// This handler covers that window and leaves with the first request head.
final class QuiesceBeforeFirstRequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
        if case .head = unwrapInboundIn(data) {
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            // No request begun: nothing to finish. Told as the end of the client's
            // input, the upgrade handler closes the connection and ends its wait as
            // for a client that left (quietly; a bare close is logged as an error).
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            context.close(promise: nil)  // in case nothing after this handler did
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}
