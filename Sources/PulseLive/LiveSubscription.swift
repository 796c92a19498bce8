import PulseCore

/// One subscriber's handle, for the calls its connection makes.
public struct LiveSubscription: Sendable {
    public let id: UInt64
    private let hub: LiveHub

    init(id: UInt64, hub: LiveHub) {
        self.id = id
        self.hub = hub
    }

    /// A new filter, from the next publish on; confirmed by a `subscribed` frame.
    public func update(_ filter: SubscriptionFilter) {
        hub.update(id, filter: filter)
    }

    /// Tells the client that one of its messages was not understood.
    public func reportError(_ message: String) {
        hub.reportError(id, message: message)
    }

    /// Removes the subscriber; call once its connection is gone.
    public func cancel() {
        hub.remove(id)
    }
}
