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
/// loop, so that a frame costs no thread hop and no task of its own: every
/// frame queued for the connection is written, then it is flushed once. The
/// transport's outbound buffer is the subscriber's queue, bounded by its
/// writability: a frame that finds the connection not writable is dropped for
/// that subscriber alone.
public protocol LiveSink: AnyObject, Sendable {
    /// The event loop that owns the connection. Every method but this is only called on it.
    var eventLoop: any EventLoop { get }
    /// How frames are put on this connection's wire; the hub encodes each
    /// frame once per format and filter, and shares the bytes.
    var wireFormat: LiveWireFormat { get }
    /// False while the connection's outbound buffer is above its high-water mark.
    var isWritable: Bool { get }
    /// Queues one frame, already in wire form (see `LiveWireFormat`).
    func write(_ frame: ByteBuffer)
    /// Sends what `write` queued.
    func flush()
    /// Ends the connection after what was written so far.
    func close(_ reason: LiveCloseReason)
}

/// How a JSON text becomes the bytes a sink writes: for WebSocket, the frame
/// header and the payload, compressed or not. The hub applies it once per
/// frame, filter and format, so that even the framing is shared by every
/// subscriber. Two formats with the same `id` must encode alike.
public struct LiveWireFormat: Sendable, Hashable {
    public let id: String
    public let encode: @Sendable (String) -> ByteBuffer

    public init(id: String, encode: @escaping @Sendable (String) -> ByteBuffer) {
        self.id = id
        self.encode = encode
    }

    /// The text's UTF-8 bytes as they are.
    public static let plain = LiveWireFormat(id: "plain") { ByteBuffer(string: $0) }

    public static func == (lhs: LiveWireFormat, rhs: LiveWireFormat) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}
