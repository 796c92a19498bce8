import Logging
import PulseCore
import ServiceLifecycle

/// Runs the store's periodic work (retention) and closes it on shutdown.
///
/// Listed first in the service group, it is shut down last: by then the HTTP
/// server and the collector have stopped, and closing commits what they queued.
public struct StoreService: Service {
    public let store: SampleStore
    private let logger: Logger

    public init(store: SampleStore, logger: Logger = Logger(label: "pulsegate.store")) {
        self.store = store
        self.logger = logger
    }

    public func run() async throws {
        let interval = store.configuration.retentionInterval
        // Returns when a graceful shutdown starts (the sleep is cancelled).
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.enforceRetention()
                    try await Task.sleep(for: interval)
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("retention failed", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: interval)
                }
            }
        }
        await store.close()
    }
}
