import NIOCore

/// Why the server closes a live connection.
public enum LiveCloseReason: Sendable, Equatable {
    /// The server is stopping (WebSocket 1001), after what was already written.
    case goingAway
    /// The client stayed behind longer than the bound (WebSocket 1008).
    case tooSlow(dropped: Int)
}

/// Where one subscriber's frames go: its connection.
///
/// The hub writes frames on the connection's own event loop, batched per event
/// loop and per publish, so that a frame costs no thread hop and no task of its
/// own. The transport's outbound buffer is the subscriber's queue, bounded by
/// its writability: a frame that finds the connection not writable is dropped
/// for that subscriber alone.
public protocol LiveSink: AnyObject, Sendable {
    /// The event loop that owns the connection. `isWritable` and `write` are only called on it.
    var eventLoop: any EventLoop { get }
    /// False while the connection's outbound buffer is above its high-water mark.
    var isWritable: Bool { get }
    /// Writes and flushes one frame, already in wire form (see `LiveWireFormat`).
    func write(_ frame: ByteBuffer)
    /// Ends the connection after what was written so far. Called on the event loop.
    func close(_ reason: LiveCloseReason)
}

/// How a JSON text becomes the bytes a sink writes: for WebSocket, the frame
/// header and the payload. The hub applies it once per frame and filter, so
/// that even the framing is shared by every subscriber.
public struct LiveWireFormat: Sendable {
    public let encode: @Sendable (String) -> ByteBuffer

    public init(encode: @escaping @Sendable (String) -> ByteBuffer) {
        self.encode = encode
    }

    /// The text's UTF-8 bytes as they are.
    public static let plain = LiveWireFormat { ByteBuffer(string: $0) }
}
