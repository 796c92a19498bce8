import Foundation
import Logging
import Metrics
import PulseCluster
import PulseCollect
import PulseCore
import PulseLive
import Synchronization

/// The metrics whose values are kept elsewhere (the hub's counts, the
/// writer's, the process's in `/proc`, the database file's size), brought up
/// to date when `/metrics` is scraped.
///
/// Counters advance by what changed since the last scrape, so Prometheus
/// sees them as the counters they are (`_total`, monotonic), not as gauges.
final class ScrapeTimeMetrics: Sendable {
    private let hub: LiveHub
    private let store: any SampleStorage
    private let latestValues: LatestValues
    /// In cluster mode, the node's view of the cluster's stream.
    private let cluster: ClusterStream?
    private let factory: any MetricsFactory
    private let logger: Logger
    private let mirrored = Mutex<[String: Double]>([:])

    init(
        hub: LiveHub, store: any SampleStorage, latestValues: LatestValues, cluster: ClusterStream? = nil,
        factory: any MetricsFactory, logger: Logger
    ) {
        self.cluster = cluster
        self.hub = hub
        self.store = store
        self.latestValues = latestValues
        self.factory = factory
        self.logger = logger
        Gauge(label: "pulsegate_build_info", dimensions: [("version", BuildInfo.version), ("swift", BuildInfo.swiftVersion)], factory: factory).record(1)
        refresh(exposedSeries: 0)  // every family present from the first scrape, counters at 0
    }

    /// Reads everything and updates the registry; file reads make it a job for
    /// the cooperative pool or a thread, never an event loop.
    func refresh(exposedSeries: Int, pushGroups: Int = 0) {
        let live = hub.statistics
        gauge("pulsegate_ws_clients", live.connected)
        advance("pulsegate_ws_frames_sent_total", to: live.framesSent)
        advance("pulsegate_ws_frames_dropped_total", to: live.framesDropped)
        advance("pulsegate_ws_slow_clients_closed_total", to: live.slowClientsClosed)
        advance("pulsegate_ws_replays_total", to: live.replaysServed)
        advance("pulsegate_ws_resets_total", to: live.resetsServed)
        advance("pulsegate_ws_connections_refused_total", to: live.connectionsRefused)

        let writer = store.statistics
        advance("pulsegate_store_rows_written_total", to: writer.rowsWritten)
        advance("pulsegate_store_retention_deleted_rows_total", to: writer.retentionRowsDeleted)
        advance("pulsegate_store_write_errors_total", to: writer.writeErrors)
        advance("pulsegate_store_compactions_total", to: writer.compactions)
        advance("pulsegate_store_compacted_rows_total", to: writer.rowsCompacted)
        gauge("pulsegate_store_compaction_longest_seconds", writer.longestCompaction.seconds)
        advance("pulsegate_store_compaction_errors_total", to: writer.compactionErrors)
        gauge("pulsegate_store_pending_samples", writer.pendingSamples)
        advance("pulsegate_store_samples_dropped_total", to: writer.samplesDropped)
        gauge("pulsegate_store_database_bytes", store.databaseBytes)
        gauge("pulsegate_exposed_series", exposedSeries)
        gauge("pulsegate_push_groups", pushGroups)

        if let stream = cluster?.statistics {
            gauge("pulsegate_cluster_stream_listening", stream.listening ? 1 : 0)
            gauge("pulsegate_cluster_stream_delivered_seq", stream.deliveredThrough)
            advance("pulsegate_cluster_stream_connections_total", to: stream.connections)
            advance("pulsegate_cluster_stream_batches_from_log_total", to: stream.readFromLog)
            advance("pulsegate_cluster_stream_batches_lost_total", to: stream.batchesLost)
            advance("pulsegate_cluster_epochs_total", to: stream.epochsStarted)
        }

        do {
            let process = try ProcessStatus.read()
            advance("process_cpu_seconds_total", to: process.cpuSeconds)
            gauge("process_resident_memory_bytes", process.residentBytes)
            gauge("process_virtual_memory_bytes", process.virtualBytes)
            gauge("process_open_fds", process.openFDs)
            if let max = process.maxFDs { gauge("process_max_fds", max) }
            gauge("process_start_time_seconds", process.startTime)
        } catch {
            logger.debug("process metrics unavailable", metadata: ["error": "\(error)"])
        }
    }

    private func gauge(_ name: String, _ value: some BinaryInteger) {
        gauge(name, Double(value))
    }

    private func gauge(_ name: String, _ value: Double) {
        Gauge(label: name, factory: factory).record(value)
    }

    private func advance(_ name: String, to total: some BinaryInteger) {
        advance(name, to: Double(total))
    }

    /// Adds to counter `name` what `total` gained since the last scrape.
    private func advance(_ name: String, to total: Double) {
        let delta = mirrored.withLock { last -> Double in
            let delta = max(0, total - (last[name] ?? 0))
            if delta > 0 { last[name] = total }
            return delta
        }
        FloatingPointCounter(label: name, factory: factory).increment(by: delta)
    }
}
