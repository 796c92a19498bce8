import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import PulseCollect
import PulseCore
import PulseLive
import PulseStore
import ServiceLifecycle

/// Builds the gateway: opens the store, wires the pipeline to the store and the
/// live hub, adds the sample sources, and builds the HTTP and WebSocket routes.
///
/// Inside the application, services stop in reverse order: the HTTP server
/// (added last by Hummingbird) stops accepting first, then the sources stop,
/// and the store, listed first, commits what they queued and closes.
public func buildApplication(_ configuration: AppConfiguration, logger: Logger = Logger(label: "pulsegate")) async throws -> Gateway {
    let metrics = GatewayMetrics()
    let store = try SampleStore.open(configuration.store, logger: logger, metrics: metrics.factory)
    let hub = LiveHub(configuration: configuration.live, wireFormat: .webSocketTextFrames)
    let latestValues = LatestValues(staleness: configuration.expositionStaleness)
    let pipeline = Pipeline(
        validator: SampleValidator(limits: configuration.sampleLimits), writer: store,
        cardinality: store, seriesLimits: configuration.series, reservedNames: MetricsCatalog.reservedNames,
        publishers: [hub, latestValues], observer: metrics.pipeline
    )

    var services: [any Service] = [StoreService(store: store, logger: logger)]
    if let interval = configuration.collectInterval {
        services.append(CollectorService(interval: interval, sink: pipeline, procRoot: configuration.procRoot, logger: logger, metrics: metrics.factory))
    }
    if configuration.syntheticSeries > 0 {
        services.append(SyntheticSource(series: configuration.syntheticSeries, rate: configuration.syntheticRate, sink: pipeline, logger: logger))
    }

    let live = LiveController(hub: hub, maxMessageBytes: configuration.maxLiveMessageBytes, metrics: metrics.liveMessages)
    let scrapeTime = ScrapeTimeMetrics(hub: hub, store: store, latestValues: latestValues, factory: metrics.factory, logger: logger)
    let router = buildRouter(
        configuration, store: store, pipeline: pipeline, live: live,
        metrics: metrics, exposition: MetricsController(registry: metrics.registry, scrapeTime: scrapeTime, latestValues: latestValues), logger: logger
    )
    let webSocketRouter = Router(context: LiveRequestContext.self)
    // Upgrades do not pass the HTTP router: they are logged here, their ?token= redacted.
    webSocketRouter.add(middleware: RequestLogMiddleware())
    live.addRoutes(to: webSocketRouter)

    let application = Application(
        router: router,
        server: .http1LiveWebSocket(
            webSocketRouter: webSocketRouter,
            configuration: .init(ws: WebSocketServerConfiguration(
                maxFrameSize: configuration.maxLiveMessageBytes,
                autoPing: .enabled(timePeriod: configuration.pingInterval),
                closeTimeout: .seconds(5)
            )),
            hub: hub, access: configuration.access, origins: configuration.origins
        ),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pulsegate"),
        services: services,
        logger: logger
    )
    return Gateway(
        application: application, hub: hub, pipeline: pipeline, store: store, metrics: metrics,
        shutdownTimeout: configuration.shutdownTimeout, logger: logger
    )
}

/// The HTTP routes and middleware, separate from the long-lived parts so that each can be read alone.
func buildRouter(
    _ configuration: AppConfiguration, store: SampleStore, pipeline: Pipeline, live: LiveController, metrics: GatewayMetrics,
    exposition: MetricsController<BasicRequestContext>, logger: Logger
) -> Router<BasicRequestContext> {
    let router = Router()
    // First: every answer is counted and timed, the others' included.
    router.add(middleware: HTTPMetricsMiddleware(factory: metrics.factory))
    router.add(middleware: RequestLogMiddleware())
    // Before anything that serves data; the dashboard's files are open (they hold none).
    router.add(middleware: AccessMiddleware(access: configuration.access))
    if FileManager.default.fileExists(atPath: configuration.publicDirectory) {
        router.add(middleware: FileMiddleware(configuration.publicDirectory, searchForIndexHtml: true, logger: logger))
    } else {
        logger.warning("dashboard files not found; / will answer 404", metadata: ["directory": "\(configuration.publicDirectory)"])
    }
    HealthController<BasicRequestContext>(databasePath: configuration.store.path, startedAt: .now, writer: store).addRoutes(to: router)
    OpenAPIController<BasicRequestContext>().addRoutes(to: router)
    HistoryController<BasicRequestContext, SampleStore>(store: store, limits: configuration.query, metrics: metrics.query).addRoutes(to: router)
    IngestController<BasicRequestContext>(pipeline: pipeline, parsers: .standard, limits: configuration.ingest, metrics: metrics.ingest).addRoutes(to: router)
    exposition.addRoutes(to: router)
    live.addRoutes(to: router)
    // Last: a router middleware runs only for the routes added before it and for
    // requests no route matches, which are the ones this one answers.
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}
