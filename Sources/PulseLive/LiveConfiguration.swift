/// The live hub's bounds. Every field has a default and a flag.
public struct LiveConfiguration: Sendable {
    /// Samples the replay ring keeps for resuming clients (whole batches are evicted).
    public var ringSamples: Int
    /// Bytes a subscriber's connection may have queued before new frames are
    /// dropped for it (the high-water mark of its outbound buffer).
    public var outboxBytes: Int
    /// A subscriber whose connection stays unwritable this long is closed.
    public var slowClientTimeout: Duration
    /// Upgrades beyond this many open connections are refused with 503.
    public var maxConnections: Int
    /// An event loop writes to its connections at most this often: what is
    /// published meanwhile goes out together, one write per connection, so that
    /// a fast publisher costs fewer writes (a slow one, never waits).
    public var flushInterval: Duration

    public init(
        ringSamples: Int = 100_000,
        outboxBytes: Int = 256 * 1024,
        slowClientTimeout: Duration = .seconds(10),
        maxConnections: Int = 10_000,
        flushInterval: Duration = .milliseconds(4)
    ) {
        self.ringSamples = ringSamples
        self.outboxBytes = outboxBytes
        self.slowClientTimeout = slowClientTimeout
        self.maxConnections = maxConnections
        self.flushInterval = flushInterval
    }
}
