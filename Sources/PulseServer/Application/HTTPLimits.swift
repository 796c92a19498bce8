/// Bounds on what a client may send before its request is even routed: the
/// request head (request line and header fields), and how long it may take.
///
/// The head limit defaults to 64 KiB, below the 80 KB that NIO's HTTP decoder
/// allows, so that ours is the limit that answers (414 or 431 with a JSON body
/// that names the flag); the decoder's own limits are raised above ours when a
/// larger one is set. 100 header fields is what Go and nginx-like servers allow
/// in practice; browsers send about 20.
public struct HTTPLimits: Sendable {
    /// Largest request head in bytes: the request line, every header field, and
    /// the blank line that ends them. Bodies do not count.
    public var maxRequestHeadBytes: Int
    /// Most header fields in one request head.
    public var maxRequestHeaders: Int
    /// How long a request head may take from its first byte to its end; and how
    /// long a connection may stay silent (before its first request, or between
    /// requests on a kept-alive connection) before it is closed.
    public var requestHeadTimeout: Duration

    public init(maxRequestHeadBytes: Int = 64 * 1024, maxRequestHeaders: Int = 100, requestHeadTimeout: Duration = .seconds(10)) {
        self.maxRequestHeadBytes = maxRequestHeadBytes
        self.maxRequestHeaders = maxRequestHeaders
        self.requestHeadTimeout = requestHeadTimeout
    }
}
