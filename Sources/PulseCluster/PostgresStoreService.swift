import Logging
import Metrics
import PostgresNIO
import ServiceLifecycle

/// Owns the cluster's store and what drives it: the PostgreSQL connection
/// pool, the writer and the maintenance. They run from `open` on (as the
/// embedded store's writer thread does); as a service, it closes on a graceful
/// shutdown: the writer commits what was queued, then the pool closes.
///
/// `open` connects and migrates before the service group starts, so a wrong
/// URL or a newer schema stops the start-up with a clear error.
public final class PostgresStoreService: Service, Sendable {
    public let store: PostgresSampleStore
    private let clientTask: Task<Void, Never>
    private let storeTask: Task<Void, Never>
    private let logger: Logger

    private init(store: PostgresSampleStore, clientTask: Task<Void, Never>, logger: Logger) {
        self.store = store
        self.clientTask = clientTask
        self.storeTask = Task { await store.run() }
        self.logger = logger
    }

    public static func open(
        _ configuration: ClusterStoreConfiguration, logger: Logger, metrics: any MetricsFactory = NOOPMetricsHandler.instance
    ) async throws -> PostgresStoreService {
        var postgresLogger = logger
        postgresLogger[metadataKey: "postgres"] = "\(configuration.postgres)"
        let client = PostgresClient(configuration: configuration.postgres.clientConfiguration, backgroundLogger: postgresLogger)
        let clientTask = Task { await client.run() }
        do {
            let store = try await PostgresSampleStore.open(configuration, client: client, logger: postgresLogger, metrics: metrics)
            return PostgresStoreService(store: store, clientTask: clientTask, logger: postgresLogger)
        } catch {
            clientTask.cancel()
            await clientTask.value
            throw error
        }
    }

    /// This node's view of the global stream, starting at the stream's head now.
    /// Every batch this node commits goes to it at once; run it as a service.
    public func openStream() async throws -> ClusterStream {
        let (seq, epoch) = try await store.streamHead()
        let stream = ClusterStream(
            epoch: epoch, head: seq, log: FrameLog(client: store.client, logger: logger),
            settings: store.configuration.postgres, logger: logger
        )
        store.onCommit { stream.offer($0) }
        return stream
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await close()
    }

    /// Commits what is queued, stops the writer and the maintenance, closes the pool.
    public func close() async {
        store.requestStop()
        await storeTask.value
        clientTask.cancel()
        await clientTask.value
        logger.info("cluster store closed", metadata: ["commits": "\(store.statistics.batchesCommitted)", "rows": "\(store.statistics.rowsWritten)"])
    }
}
