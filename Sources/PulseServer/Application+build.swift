import Foundation
import Hummingbird
import Logging
import PulseCollect
import PulseCore
import PulseStore
import ServiceLifecycle

/// Builds the gateway: opens the store, wires the pipeline and the collector,
/// and returns the Hummingbird application that runs them all as one service group.
///
/// Service order matters: the group shuts down in reverse, so the HTTP server
/// (added last by Hummingbird) stops accepting first, then the collector stops,
/// and the store, listed first, commits what they queued and closes.
public func buildApplication(_ configuration: AppConfiguration, logger: Logger = Logger(label: "pulsegate")) async throws -> some ApplicationProtocol {
    let store = try SampleStore.open(configuration.store, logger: logger)
    let pipeline = Pipeline(writer: store)

    var services: [any Service] = [StoreService(store: store, logger: logger)]
    if let interval = configuration.collectInterval {
        services.append(CollectorService(interval: interval, sink: pipeline, procRoot: configuration.procRoot, logger: logger))
    }

    let router = buildRouter(configuration, logger: logger)
    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pulsegate"),
        services: services,
        logger: logger
    )
}

/// The routes and middleware, separate from the long-lived parts so that each can be read alone.
public func buildRouter(_ configuration: AppConfiguration, logger: Logger) -> Router<BasicRequestContext> {
    let router = Router()
    router.add(middleware: LogRequestsMiddleware(.debug))
    if FileManager.default.fileExists(atPath: configuration.publicDirectory) {
        router.add(middleware: FileMiddleware(configuration.publicDirectory, searchForIndexHtml: true, logger: logger))
    } else {
        logger.warning("dashboard files not found; / will answer 404", metadata: ["directory": "\(configuration.publicDirectory)"])
    }
    HealthController<BasicRequestContext>(databasePath: configuration.store.path, startedAt: .now).addRoutes(to: router)
    return router
}
