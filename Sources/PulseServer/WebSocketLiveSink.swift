import NIOCore
import NIOWebSocket
import PulseLive

/// A live subscriber's WebSocket connection, as the hub writes to it.
///
/// Frames go straight into the channel on its event loop, as text frames that
/// share the hub's encoded bytes. The channel's outbound buffer is the
/// subscriber's bounded queue: its high-water mark is `outboxBytes`. Closing is
/// left to the connection's handler (it owns the WebSocket close handshake),
/// which waits on `closeRequests`.
final class WebSocketLiveSink: LiveSink {
    let channel: any Channel
    let closeRequests: AsyncStream<LiveCloseReason>
    private let requestClose: AsyncStream<LiveCloseReason>.Continuation

    init(channel: any Channel, outboxBytes: Int) {
        self.channel = channel
        (closeRequests, requestClose) = AsyncStream.makeStream(of: LiveCloseReason.self, bufferingPolicy: .bufferingOldest(1))
        let high = max(outboxBytes, 2)
        channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high)).whenFailure { _ in }
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    var isWritable: Bool { channel.isWritable }

    func write(_ frame: ByteBuffer) {
        channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: frame), promise: nil)
    }

    func close(_ reason: LiveCloseReason) {
        requestClose.yield(reason)
        requestClose.finish()
    }
}
