import NIOCore
import PulseLive

/// What every live connection shares: the hub, the bounds, the timers, the
/// counters, and the compressed wire format when compression is on.
struct LiveConnectionSettings: Sendable {
    let hub: LiveHub
    /// Largest client message (and frame) read; beyond it the connection is closed with 1009.
    let maxMessageBytes: Int
    /// How long the close handshake may take (the frame written, the peer's
    /// answer) before the connection is dropped.
    let closeTimeout: TimeAmount
    let metrics: LiveMessageMetrics
    /// The shared permessage-deflate format, or nil when compression is off.
    let deflate: LiveWireFormat?
    /// Pings every open connection, per event loop.
    let pingers: LivePingers
}
