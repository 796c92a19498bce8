import PulseCore

/// One subscriber's handle: the frames to send, and the calls its connection makes.
public struct LiveSubscription: Sendable {
    public let id: UInt64
    private let outbox: Outbox
    private let hub: LiveHub

    init(id: UInt64, outbox: Outbox, hub: LiveHub) {
        self.id = id
        self.outbox = outbox
        self.hub = hub
    }

    /// The next frame or close for the socket; nil when the subscription has ended.
    public func next() async -> OutboxItem? {
        await outbox.next()
    }

    /// Counts frames written to the socket.
    public func sent(_ frames: Int = 1) {
        hub.recordSent(frames)
    }

    public func update(_ filter: SubscriptionFilter) {
        hub.update(id, filter: filter, outbox: outbox)
    }

    public func reportError(_ message: String) {
        hub.reportError(message, outbox: outbox)
    }

    /// Removes the subscriber; call once its connection is gone.
    public func cancel() {
        outbox.finish()
        hub.remove(id)
    }

    public var queuedFrames: Int { outbox.queuedFrames }
}
