import PulseCluster
import PulseStore
import ServiceLifecycle

/// The service that runs a store's periodic work and closes it on shutdown,
/// whichever store it is; `close()` is for a gateway that fails to start.
protocol StoreRunner: Service {
    func close() async
}

extension StoreService: StoreRunner {
    func close() async {
        await store.close()
    }
}

extension PostgresStoreService: StoreRunner {}
