import HummingbirdWebSocket
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
/// `outboxBytes`. A close goes through the connection's WebSocket writer, so
/// that the close handshake is the library's; the task for it exists only
/// once a close is asked for, which keeps an idle connection small.
final class WebSocketLiveSink: LiveSink, @unchecked Sendable {
    let channel: any Channel
    private let outbound: WebSocketOutboundWriter
    private let closeFrameTimeout: Duration
    /// The context of the WebSocket frame encoder; found on the event loop at the first write.
    private var encoderContext: ChannelHandlerContext?

    init(channel: any Channel, outbound: WebSocketOutboundWriter, outboxBytes: Int, closeFrameTimeout: Duration) {
        self.channel = channel
        self.outbound = outbound
        self.closeFrameTimeout = closeFrameTimeout
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
        let (code, text): (WebSocketErrorCode, String) = switch reason {
        case .goingAway: (.goingAway, "server shutting down")
        case let .tooSlow(dropped): (.policyViolation, "client too slow: \(dropped) frames dropped")
        }
        Task { [outbound, channel, closeFrameTimeout] in
            await Self.close(outbound, code, reason: text, channel: channel, timeout: closeFrameTimeout)
        }
    }

    /// Sends a close frame and waits for the handshake to end, the peer's answer closing
    /// the connection. A peer that stopped reading would never let the frame through, and
    /// one that reads but never answers (a frozen tab, a lost network) would hold the
    /// connection, and a graceful stop, until the server's own timeouts: after `timeout`
    /// the connection is dropped instead.
    private static func close(_ outbound: WebSocketOutboundWriter, _ code: WebSocketErrorCode, reason: String, channel: any Channel, timeout: Duration) async {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                guard (try? await outbound.close(code, reason: reason)) != nil else { return false }
                return (try? await channel.closeFuture.get()) != nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            if await group.next() == false {
                channel.close(promise: nil)  // also ends the close write still waiting
            }
            group.cancelAll()
        }
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
