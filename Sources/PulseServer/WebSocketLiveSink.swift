import NIOCore
import NIOWebSocket
import PulseLive

/// A live subscriber's WebSocket connection, as the hub writes to it.
///
/// The hub hands over complete WebSocket text frames (header and payload,
/// built once per publish by `webSocketTextFrames`), which go straight to the
/// socket: they are written from the frame encoder's place in the pipeline,
/// so no handler re-encodes them per connection. The channel's outbound
/// buffer is the subscriber's bounded queue: its high-water mark is
/// `outboxBytes`. Closing is left to the connection's handler (it owns the
/// WebSocket close handshake), which waits on `closeRequests`.
final class WebSocketLiveSink: LiveSink, @unchecked Sendable {
    let channel: any Channel
    let closeRequests: AsyncStream<LiveCloseReason>
    private let requestClose: AsyncStream<LiveCloseReason>.Continuation
    /// The context of the WebSocket frame encoder; found on the event loop at the first write.
    private var encoderContext: ChannelHandlerContext?

    init(channel: any Channel, outboxBytes: Int) {
        self.channel = channel
        (closeRequests, requestClose) = AsyncStream.makeStream(of: LiveCloseReason.self, bufferingPolicy: .bufferingOldest(1))
        let high = max(outboxBytes, 2)
        channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high)).whenFailure { _ in }
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    var isWritable: Bool { channel.isWritable }

    func write(_ frame: ByteBuffer) {
        if encoderContext == nil {
            encoderContext = try? channel.pipeline.syncOperations.context(handlerType: WebSocketFrameEncoder.self)
        }
        guard let encoderContext else { return }  // the connection is closing
        encoderContext.writeAndFlush(NIOAny(frame), promise: nil)
    }

    func close(_ reason: LiveCloseReason) {
        requestClose.yield(reason)
        requestClose.finish()
    }
}

extension LiveWireFormat {
    /// Unmasked WebSocket text frames (RFC 6455 §5.2), as a server sends them.
    static let webSocketTextFrames = LiveWireFormat { text in
        let length = text.utf8.count
        var buffer = ByteBufferAllocator().buffer(capacity: length + 10)
        buffer.writeInteger(UInt8(0x81))  // FIN, opcode 1 (text)
        switch length {
        case ..<126:
            buffer.writeInteger(UInt8(length))
        case ..<65_536:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
        buffer.writeString(text)
        return buffer
    }
}
