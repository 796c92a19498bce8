import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// The WebSocket router's context: Hummingbird's basic one, plus the channel,
/// so that a connection whose peer stopped reading can be dropped when even
/// its close frame cannot be written.
struct LiveRequestContext: RequestContext, WebSocketRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.webSocket = .init()
        self.channel = source.channel
    }
}
