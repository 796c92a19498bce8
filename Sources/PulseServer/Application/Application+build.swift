import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import PulseCluster
import PulseCollect
import PulseCore
import PulseLive
import PulseStore
import ServiceLifecycle

/// Builds the gateway: opens the store (the SQLite file, or in cluster mode
/// PostgreSQL), wires the pipeline to the store and the live hub, adds the
/// sample sources, and builds the HTTP and WebSocket routes.
///
/// Inside the application, services stop in reverse order: the HTTP server
/// (added last by Hummingbird) stops accepting first, then the sources stop,
/// and the store, listed first, commits what they queued and closes.
public func buildApplication(_ configuration: AppConfiguration, logger: Logger = Logger(label: "pulsegate")) async throws -> Gateway {
    let metrics = GatewayMetrics()
    let opened = try await openStore(configuration, logger: logger, metrics: metrics)
    let store = opened.storage
    let latestValues = LatestValues(staleness: configuration.expositionStaleness)
    // Every group is at least a series' worth (its push time): --max-series bounds them too.
    let pushGroups = PushGroups(
        defaultTTL: configuration.pushGroupTTL, maxGroups: configuration.series.maxSeries, expired: { metrics.pushGroupsExpired.increment(by: $0) }
    )
    let hub: LiveHub
    let publishers: [any SamplePublisher]
    if let stream = opened.stream {
        // Cluster mode: the hub carries the cluster's stream (every node's batches, in
        // commit order), not what this node writes; so does the exposition.
        hub = LiveHub(configuration: configuration.live, instance: stream.epoch, headSeq: stream.startSeq, log: stream.log)
        stream.attach({ batch in
            hub.publish(batch)
            latestValues.publish(batch.samples, from: .ingest)
        }, degraded: { reason in
            hub.setDegraded(reason)
        }, newEpoch: { epoch, head in
            hub.startEpoch(epoch, headSeq: head)
        })
        // What a sender says besides samples (ended series, metric metadata) is this node's.
        publishers = [AnnotationPublisher(latestValues)]
    } else {
        hub = LiveHub(configuration: configuration.live)
        publishers = [hub, latestValues]
    }
    let pipeline = Pipeline(
        validator: SampleValidator(limits: configuration.sampleLimits), writer: store,
        cardinality: store, seriesLimits: configuration.series, reservedNames: MetricsCatalog.reservedNames,
        publishers: publishers, observer: metrics.pipeline
    )
    let storeService = opened.runner

    // The store first, so that it stops last; in cluster mode the stream after it.
    var services: [any Service] = [storeService]
    if let stream = opened.stream { services.append(stream) }
    if let interval = configuration.collectInterval {
        // In a cluster, each node's host figures carry its name, so that nodes' series never collide.
        let labels = configuration.cluster.map { ["node": $0.node] } ?? [:]
        services.append(CollectorService(
            interval: interval, sink: pipeline, procRoot: configuration.procRoot, labels: labels, logger: logger, metrics: metrics.factory
        ))
    }
    if configuration.syntheticSeries > 0 {
        services.append(SyntheticSource(series: configuration.syntheticSeries, rate: configuration.syntheticRate, sink: pipeline, logger: logger))
    }

    let live = LiveController(hub: hub)
    let scrapeTime = ScrapeTimeMetrics(
        hub: hub, store: store, latestValues: latestValues, cluster: opened.stream, factory: metrics.factory, logger: logger
    )
    let httpAccess = RouteAccessRegistry()
    let router = buildRouter(
        configuration, store: store, pipeline: pipeline, live: live,
        metrics: metrics, pushGroups: pushGroups,
        exposition: MetricsController(registry: metrics.registry, scrapeTime: scrapeTime, latestValues: latestValues, pushGroups: pushGroups),
        access: httpAccess, logger: logger
    )
    let webSocketAccess = RouteAccessRegistry()
    LiveController.declareUpgrade(in: webSocketAccess)

    // Fails closed: a route registered outside every access group is a gateway that does not start.
    let httpRoutes = RouteInventory(router: router, table: httpAccess.table)
    let webSocketRoutes = RouteInventory(routes: [.init(method: .get, path: LiveController.path)], table: webSocketAccess.table)
    let problems = httpRoutes.problems(publicPaths: RouteAccess.publicPaths) + webSocketRoutes.problems(publicPaths: [])
    guard problems.isEmpty else {
        await storeService.close()
        throw UndeclaredRouteAccess(problems: problems)
    }

    let application = Application(
        router: router,
        server: .http1Live(
            http1: decoderAbove(configuration.http),
            live: LiveConnectionSettings(
                hub: hub, maxMessageBytes: configuration.maxLiveMessageBytes, closeTimeout: .seconds(1), metrics: metrics.liveMessages,
                deflate: configuration.liveCompression ? .webSocketDeflate(RawDeflater(level: 6)) : nil,
                pingers: LivePingers(interval: .init(configuration.pingInterval))
            ),
            access: configuration.access, webSocketRoutes: webSocketAccess.table, origins: configuration.origins,
            limits: configuration.http, headMetrics: metrics.requestHeads
        ),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "pulsegate"),
        services: services,
        logger: logger
    )
    return Gateway(
        application: application, hub: hub, pipeline: pipeline, store: store, metrics: metrics,
        shutdownTimeout: configuration.shutdownTimeout, httpRoutes: httpRoutes, webSocketRoutes: webSocketRoutes, logger: logger
    )
}

/// The store the configuration asks for, opened: what the gateway reads and
/// writes, the service that runs and closes it, and in cluster mode the node's
/// view of the cluster's stream.
struct OpenedStore {
    let storage: any SampleStorage
    let runner: any StoreRunner
    let stream: ClusterStream?
}

func openStore(_ configuration: AppConfiguration, logger: Logger, metrics: GatewayMetrics) async throws -> OpenedStore {
    guard let cluster = configuration.cluster else {
        let store = try SampleStore.open(configuration.store, logger: logger, metrics: metrics.factory)
        return OpenedStore(storage: store, runner: StoreService(store: store, logger: logger), stream: nil)
    }
    let service = try await PostgresStoreService.open(ClusterStoreConfiguration(
        postgres: cluster.postgres,
        node: cluster.node,
        batchSize: configuration.store.batchSize,
        batchAge: configuration.store.batchAge,
        retention: configuration.store.retention,
        rollupRetention: configuration.store.rollupRetention,
        maxPendingSamples: configuration.store.maxPendingSamples
    ), logger: logger, metrics: metrics.factory)
    do {
        return OpenedStore(storage: service.store, runner: service, stream: try await service.openStream())
    } catch {
        await service.close()
        throw error
    }
}

/// The HTTP routes and middleware, separate from the long-lived parts so that each can be read alone.
///
/// Every route is registered in the group of the access it needs, which puts
/// the scope's check in front of it and records it in `access`; the gateway
/// does not start with a route outside every group (`RouteInventory`).
func buildRouter<Store: SampleStorage>(
    _ configuration: AppConfiguration, store: Store, pipeline: Pipeline, live: LiveController, metrics: GatewayMetrics, pushGroups: PushGroups,
    exposition: MetricsController<BasicRequestContext>, access: RouteAccessRegistry, logger: Logger
) -> Router<BasicRequestContext> {
    let router = Router()
    // First: every answer is counted and timed, the others' included.
    router.add(middleware: HTTPMetricsMiddleware(factory: metrics.factory))
    router.add(middleware: RequestLogMiddleware())

    func group(_ needed: RouteAccess) -> AccessGroup<BasicRequestContext> {
        AccessGroup(needed, on: router, control: configuration.access, registry: access)
    }
    // Open to anyone: probes and the API's description (on `RouteAccess.publicPaths`).
    let open = group(.open)
    HealthController<BasicRequestContext>(
        database: store.location, mode: configuration.cluster.map { .cluster(node: $0.node) } ?? .embedded, startedAt: .now, writer: store
    ).addRoutes(to: open)
    OpenAPIController<BasicRequestContext>().addRoutes(to: open)
    // The dashboard's data.
    let read = group(.scope(.read))
    HistoryController<BasicRequestContext, Store>(store: store, limits: configuration.query, metrics: metrics.query).addRoutes(to: read)
    live.addRoutes(to: read)
    let pushgateway = PushgatewayController<BasicRequestContext>(pipeline: pipeline, groups: pushGroups, limits: configuration.ingest, metrics: metrics.pushgateway)
    pushgateway.addListing(to: read)
    // Pushes.
    let write = group(.scope(.write))
    IngestController<BasicRequestContext>(pipeline: pipeline, parsers: .standard, limits: configuration.ingest, metrics: metrics.ingest)
        .addRoutes(to: write)
    RemoteWriteController<BasicRequestContext>(pipeline: pipeline, limits: configuration.ingest, metrics: metrics.remoteWrite)
        .addRoutes(to: write)
    pushgateway.addRoutes(to: write)
    // Prometheus scraping the gateway.
    exposition.addRoutes(to: group(.scope(.metrics)))

    // After the routes, router middleware runs only for requests no route
    // matched: the dashboard's files (open: they hold no data; the page asks
    // for a token when the data needs one), then 405 for a known path asked
    // with another method, else 404. Neither serves data without its scope.
    if FileManager.default.fileExists(atPath: configuration.publicDirectory) {
        router.add(middleware: FileMiddleware(configuration.publicDirectory, searchForIndexHtml: true, logger: logger))
    } else {
        logger.warning("dashboard files not found; / will answer 404", metadata: ["directory": "\(configuration.publicDirectory)"])
    }
    router.add(middleware: MethodNotAllowedMiddleware(routes: router.routes))
    return router
}

/// NIO's decoder limits, raised above ours so that `RequestHeadGuard`, which
/// answers with a 414 or 431 that names the flag, is the one that refuses.
func decoderAbove(_ limits: HTTPLimits) -> HTTP1Channel.Configuration {
    let defaults = HTTP1Channel.Configuration.DecoderConfiguration()
    return HTTP1Channel.Configuration(httpDecoderConfiguration: .init(
        maxHeaderFieldSize: max(defaults.maxHeaderFieldSize, limits.maxRequestHeadBytes + 1),
        maxHeaderListSize: max(defaults.maxHeaderListSize, limits.maxRequestHeadBytes + 1),
        maxHeaderFieldCount: max(defaults.maxHeaderFieldCount, limits.maxRequestHeaders + 1)
    ))
}
