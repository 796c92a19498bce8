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
        // One connection first, so that a wrong address or password stops the start at
        // once with PostgreSQL's reason (the pool would retry it quietly).
        do {
            let connection = try await PostgresConnection.connect(
                configuration: configuration.postgres.connectionConfiguration(), id: 0, logger: postgresLogger
            )
            try await connection.close()
        } catch {
            throw ClusterError.cannotOpen(database: configuration.postgres.description, reason: reason(error))
        }
        let client = PostgresClient(configuration: configuration.postgres.clientConfiguration, backgroundLogger: postgresLogger)
        let clientTask = Task { await client.run() }
        do {
            let storeLogger = postgresLogger
            let store = try await withDeadline(Self.openDeadline) {
                try await PostgresSampleStore.open(configuration, client: client, logger: storeLogger, metrics: metrics)
            }
            return PostgresStoreService(store: store, clientTask: clientTask, logger: postgresLogger)
        } catch {
            clientTask.cancel()
            await clientTask.value
            if error is ClusterError { throw error }
            throw ClusterError.cannotOpen(database: configuration.postgres.description, reason: Self.reason(error))
        }
    }

    /// How long the start may wait for PostgreSQL (connect, migrate, load the series).
    static let openDeadline: Duration = .seconds(30)

    /// What went wrong, in words: postgres-nio's errors keep the server's message
    /// apart from their (redacted) description.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return "\(underlying)" }
            return "\(error.code)"
        }
        return "\(error)"
    }

    /// This node's view of the global stream, starting at the stream's head now.
    /// Every batch this node commits goes to it at once; run it as a service.
    public func openStream() async throws -> ClusterStream {
        let (seq, epoch) = try await store.streamHead()
        let stream = ClusterStream(
            epoch: epoch, head: seq, log: FrameLog(client: store.client, logger: logger),
            series: store.registry, settings: store.configuration.postgres, node: store.configuration.node, logger: logger
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
