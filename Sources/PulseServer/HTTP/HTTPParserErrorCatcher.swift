import NIOCore
import NIOHTTP1

/// Right behind NIO's HTTP decoder: hands the decoder's parse errors to
/// `RequestHeadGuard`, which answers them with a 400, instead of letting them
/// reach Hummingbird's pipeline, which drops them and leaves the client waiting
/// (before the first request) or resets the connection.
///
/// It never looks at what it passes on: after a WebSocket upgrade the decoder
/// leaves, handing it the raw bytes that followed the upgrade request.
final class HTTPParserErrorCatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Never

    private let requestHeadGuard: RequestHeadGuard

    init(reportingTo requestHeadGuard: RequestHeadGuard) {
        self.requestHeadGuard = requestHeadGuard
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError {
            requestHeadGuard.parserErrorCaught(error)
        } else {
            context.fireErrorCaught(error)
        }
    }
}
