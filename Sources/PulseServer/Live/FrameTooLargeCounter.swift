import Metrics
import NIOCore
import NIOWebSocket

/// Counts the frames NIO's WebSocket decoder refused as longer than the limit
/// (it closes the connection itself, with 1009), and passes every error on.
final class FrameTooLargeCounter: ChannelInboundHandler, Sendable {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame
    let counter: Counter

    init(counter: Counter) {
        self.counter = counter
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if (error as? NIOWebSocketError) == .invalidFrameLength { counter.increment() }
        context.fireErrorCaught(error)
    }
}
