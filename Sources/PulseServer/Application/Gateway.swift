import Hummingbird
import Logging
import PulseCore
import PulseLive
import PulseStore
import ServiceLifecycle

/// The whole gateway: the Hummingbird application (HTTP server, collector,
/// store) and the live hub, run as one service group.
///
/// The hub's service comes after the application, so a graceful shutdown
/// reaches it first: live connections get what is queued and a 1001 close
/// while the server still runs; then the server stops accepting, the collector
/// stops, and the store commits what they queued and closes.
public struct Gateway: Service {
    public let application: Application<RouterResponder<BasicRequestContext>>
    public let hub: LiveHub
    /// Where every sample enters: validated, stored, then published to the hub.
    public let pipeline: Pipeline
    /// The SQLite store, or in cluster mode the PostgreSQL one.
    public let store: any SampleStorage
    /// The gateway's own instrumentation, served at `/metrics`.
    public let metrics: GatewayMetrics
    /// How long a graceful shutdown may take before what still runs is cancelled.
    let shutdownTimeout: Duration
    /// The routes served, with the access each declared (for tests of that).
    let httpRoutes: RouteInventory
    let webSocketRoutes: RouteInventory
    let logger: Logger

    public func run() async throws {
        var configuration = ServiceGroupConfiguration(
            services: [.init(service: application), .init(service: LiveHubService(hub: hub, logger: logger))],
            logger: logger
        )
        // A connection in the middle of a request that never ends (a stalled
        // upload) would otherwise hold the stop forever. Cancelling still closes
        // the store, which commits what was accepted.
        configuration.maximumGracefulShutdownDuration = shutdownTimeout
        try await ServiceGroup(configuration: configuration).run()
    }

    /// Runs until SIGTERM or SIGINT, then stops gracefully.
    public func runService() async throws {
        let group = ServiceGroup(configuration: .init(
            services: [self],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        ))
        try await group.run()
    }
}
