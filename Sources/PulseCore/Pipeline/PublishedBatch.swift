/// One batch of the live stream: its place in the stream (`seq`), when it was
/// published (ms since the epoch, with µs decimals) and its samples.
public struct PublishedBatch: Sendable, Equatable {
    public let seq: UInt64
    public let serverTime: Double
    public let samples: [Sample]

    public init(seq: UInt64, serverTime: Double, samples: [Sample]) {
        self.seq = seq
        self.serverTime = serverTime
        self.samples = samples
    }
}
