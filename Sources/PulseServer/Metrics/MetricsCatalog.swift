import PulseCore
/// Every metric of the gateway's own, with its help text and, for
/// histograms, its buckets: one place to read what `/metrics` says about
/// Pulsegate, and what `promtool check metrics` asks of each family (a help
/// text; base units; `_total` on counters only).
enum MetricsCatalog {
    struct Family {
        let help: String
        var buckets: [Double] = []
        /// Exposed by cluster nodes only.
        var clusterOnly = false
    }

    static let families: [String: Family] = [
        "pulsegate_build_info": Family(help: "Always 1; the labels say which Pulsegate and Swift built it."),
        // HTTP
        "pulsegate_http_requests_total": Family(help: "HTTP requests answered, by route, method and status."),
        "pulsegate_http_heads_refused_total": Family(help: "Requests refused before routing for their head, by reason (uri_too_long, head_too_large, too_many_headers, head_timeout, malformed)."),
        "pulsegate_http_request_duration_seconds": Family(
            help: "Time from a request's head to the end of its response, by route and method.",
            buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
        ),
        // WebSocket
        "pulsegate_ws_clients": Family(help: "Live WebSocket clients connected now."),
        "pulsegate_ws_frames_sent_total": Family(help: "Frames (samples and control) handed to live clients' sockets."),
        "pulsegate_ws_frames_dropped_total": Family(help: "Frames dropped because a live client's outbox was full."),
        "pulsegate_ws_slow_clients_closed_total": Family(help: "Live clients closed for staying behind longer than the slow-client timeout."),
        "pulsegate_ws_replays_total": Family(help: "Resumes served from the replay ring."),
        "pulsegate_ws_resets_total": Family(help: "Resumes the ring could not serve, answered with a reset."),
        "pulsegate_ws_messages_rejected_total": Family(help: "Client messages on the live stream refused, by reason (malformed, too_large, protocol_violation)."),
        "pulsegate_ws_ping_timeouts_total": Family(help: "Live clients closed for not answering a ping within the ping interval."),
        "pulsegate_history_requests_rejected_total": Family(help: "GET /history requests refused, by reason (a bound, or a bad parameter)."),
        "pulsegate_ws_connections_refused_total": Family(help: "WebSocket upgrades refused because the connection limit was reached."),
        // Pipeline and ingest
        "pulsegate_samples_accepted_total": Family(help: "Samples stored and published, by source."),
        "pulsegate_samples_rejected_total": Family(help: "Samples refused, by source and reason: the invalid ones, or every sample of a batch refused as a whole."),
        "pulsegate_ingest_requests_accepted_total": Family(help: "POST /ingest requests committed and answered 200."),
        "pulsegate_ingest_samples_accepted_total": Family(help: "Samples in POST /ingest requests committed and answered 200."),
        "pulsegate_ingest_requests_rejected_total": Family(help: "POST /ingest requests refused, by reason."),
        "pulsegate_remote_write_requests_accepted_total": Family(help: "POST /api/v1/write (remote_write) requests committed and answered 204."),
        "pulsegate_remote_write_samples_accepted_total": Family(help: "Samples in POST /api/v1/write requests committed and answered 204."),
        "pulsegate_remote_write_requests_rejected_total": Family(help: "POST /api/v1/write requests refused, by reason."),
        "pulsegate_remote_write_samples_skipped_total": Family(help: "Samples of accepted POST /api/v1/write requests not stored, by reason (nan, inf, native_histogram, reserved_name); staleness markers end their series instead."),
        "pulsegate_pushgateway_requests_accepted_total": Family(help: "Pushes to the Pushgateway API (PUT and POST /metrics/job/...) committed and answered 200."),
        "pulsegate_pushgateway_samples_accepted_total": Family(help: "Samples of Pushgateway API pushes committed and answered 200."),
        "pulsegate_pushgateway_requests_rejected_total": Family(help: "Pushes to the Pushgateway API refused, by reason."),
        "pulsegate_pushgateway_samples_skipped_total": Family(help: "Samples of accepted Pushgateway API pushes exposed in their group but not stored, by reason (nan, inf)."),
        "pulsegate_push_groups": Family(help: "Pushgateway API groups held and exposed now."),
        "pulsegate_push_groups_expired_total": Family(help: "Pushgateway API groups removed because their TTL passed without a push."),
        // Store
        "pulsegate_store_batch_samples": Family(
            help: "Samples per committed transaction.",
            buckets: [1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000]
        ),
        "pulsegate_store_commit_duration_seconds": Family(
            help: "Time of one write transaction, BEGIN to COMMIT.",
            buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
        ),
        "pulsegate_store_rows_written_total": Family(help: "Raw sample rows written (inserted or overwritten)."),
        "pulsegate_store_retention_deleted_rows_total": Family(help: "Raw sample rows deleted by retention."),
        "pulsegate_store_write_errors_total": Family(help: "Write transactions that failed and were rolled back."),
        "pulsegate_store_compactions_total": Family(help: "Compaction transactions that moved head rows into compressed chunks (0 in cluster mode)."),
        "pulsegate_store_compacted_rows_total": Family(help: "Rows moved into compressed chunks by compaction."),
        "pulsegate_store_compaction_longest_seconds": Family(help: "The longest compaction transaction since the start: it holds the write lock."),
        "pulsegate_store_compaction_errors_total": Family(help: "Compaction transactions that failed and were rolled back."),
        "pulsegate_store_database_bytes": Family(help: "Size of the database: the SQLite file and its write-ahead log, or in cluster mode PostgreSQL's database."),
        "pulsegate_store_pending_samples": Family(help: "Samples accepted and waiting for the next commit."),
        "pulsegate_store_samples_dropped_total": Family(help: "Samples queued and given up before a commit: a full queue after a failed write, or (cluster mode) longer than the age bound waiting for PostgreSQL."),
        // Cluster mode: the node's view of the cluster's stream
        "pulsegate_cluster_stream_listening": Family(help: "1 while this node's LISTEN connection to PostgreSQL is up, else 0.", clusterOnly: true),
        "pulsegate_cluster_stream_delivered_seq": Family(help: "The last seq of the cluster's stream this node handed to its live clients.", clusterOnly: true),
        "pulsegate_cluster_stream_connections_total": Family(help: "LISTEN connections this node made to PostgreSQL (the first, then one per reconnection).", clusterOnly: true),
        "pulsegate_cluster_stream_batches_from_log_total": Family(help: "Batches read from the frames log rather than received in a notification.", clusterOnly: true),
        "pulsegate_cluster_stream_batches_lost_total": Family(help: "Batches the frames log no longer held when this node needed them.", clusterOnly: true),
        "pulsegate_cluster_epochs_total": Family(help: "New epochs of the cluster's stream this node started or joined (a restored or rolled-back log).", clusterOnly: true),
        // Collector
        "pulsegate_collector_read_errors_total": Family(help: "Failed reads of a /proc file by the host collector, by file."),
        // Exposition of latest values
        "pulsegate_exposed_series": Family(help: "Live series whose latest value this exposition carries."),
        // Process, as Prometheus's client libraries name them
        "process_cpu_seconds_total": Family(help: "Total user and system CPU time spent in seconds."),
        "process_resident_memory_bytes": Family(help: "Resident memory size in bytes."),
        "process_virtual_memory_bytes": Family(help: "Virtual memory size in bytes."),
        "process_open_fds": Family(help: "Number of open file descriptors."),
        "process_max_fds": Family(help: "Maximum number of open file descriptors."),
        "process_start_time_seconds": Family(help: "Start time of the process since unix epoch in seconds."),
    ]

    /// Names a push may not use: they would collide with the gateway's own
    /// families (a histogram's `_bucket`, `_sum` and `_count` included).
    static func isReserved(_ metric: String) -> Bool {
        metric.hasPrefix("pulsegate_") || reservedProcessNames.contains(metric)
    }

    /// The rule the pipeline refuses pushed names by.
    static let reservedNames = ReservedNames(
        explanation: "names starting with pulsegate_, and the process_* names the gateway exposes itself, are not accepted from pushes",
        isReserved
    )

    private static let reservedProcessNames: Set<String> = Set(families.keys.filter { $0.hasPrefix("process_") })

    static func help(_ name: String) -> String {
        families[name]?.help ?? ""
    }
}
