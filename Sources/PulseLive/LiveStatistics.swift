/// What the hub has done since it started; read by self-instrumentation and tests.
public struct LiveStatistics: Sendable, Equatable {
    public var connected = 0
    public var published = 0
    /// Frames (samples and control) handed to subscribers' sockets.
    public var framesSent = 0
    /// Frames dropped because a subscriber's outbox was full.
    public var framesDropped = 0
    public var slowClientsClosed = 0
    public var replaysServed = 0
    public var resetsServed = 0
    public var connectionsRefused = 0
    /// Times the stream started anew under another instance (cluster mode: a new epoch).
    public var epochsStarted = 0

    public init() {}
}
