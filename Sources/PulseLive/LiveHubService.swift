import Logging
import ServiceLifecycle

/// Closes every live connection with 1001 when a graceful shutdown starts.
///
/// It must stop before the HTTP server does (the server's own shutdown would
/// close WebSockets with 1000 and without sending what is queued), so it runs
/// after the application in the gateway's service group, which shuts down in
/// reverse order.
public struct LiveHubService: Service {
    public let hub: LiveHub
    private let drainTimeout: Duration
    private let logger: Logger

    public init(hub: LiveHub, drainTimeout: Duration = .seconds(5), logger: Logger = Logger(label: "pulsegate.live")) {
        self.hub = hub
        self.drainTimeout = drainTimeout
        self.logger = logger
    }

    public func run() async throws {
        // Wait for the graceful shutdown (the sleep is cancelled then).
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(3600))
            }
        }
        let open = hub.statistics.connected
        hub.shutdown()
        let deadline = ContinuousClock.now + drainTimeout
        while hub.statistics.connected > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        logger.info("live connections closed", metadata: ["closed": "\(open)", "left": "\(hub.statistics.connected)"])
    }
}
