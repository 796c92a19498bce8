/// The live hub's bounds. Every field has a default and a flag.
public struct LiveConfiguration: Sendable {
    /// Samples the replay ring keeps for resuming clients (whole batches are evicted).
    public var ringSamples: Int
    /// Frames a subscriber may have queued before new ones are dropped for it.
    public var outboxFrames: Int
    /// A subscriber that stays behind (its outbox never empties) this long is closed.
    public var slowClientTimeout: Duration
    /// Upgrades beyond this many open connections are refused with 503.
    public var maxConnections: Int

    public init(
        ringSamples: Int = 100_000,
        outboxFrames: Int = 256,
        slowClientTimeout: Duration = .seconds(10),
        maxConnections: Int = 10_000
    ) {
        self.ringSamples = ringSamples
        self.outboxFrames = outboxFrames
        self.slowClientTimeout = slowClientTimeout
        self.maxConnections = maxConnections
    }
}
