import ArgumentParser
import Foundation
import Logging
import PulseCluster
import PulseCore
import PulseLive
import PulseServer
import PulseStore

/// `pulsegate`: parses flags (falling back to `PULSEGATE_*` variables, then to
/// the defaults) and runs the gateway until SIGTERM or SIGINT.
@main
struct Pulsegate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A metrics gateway: host collector, SQLite history, live WebSocket stream, Prometheus exposition.",
        version: BuildInfo.version
    )

    /// Every default, from the configuration types: written once, there.
    static let defaults = AppConfiguration()

    @Option(help: "Address to listen on (env PULSEGATE_HOST).")
    var host: String = Environment.string("PULSEGATE_HOST") ?? defaults.host

    @Option(help: "Port to listen on (env PULSEGATE_PORT).")
    var port: Int = Environment.int("PULSEGATE_PORT") ?? defaults.port

    @Option(name: .customLong("db"), help: "SQLite database file; its directory is created (env PULSEGATE_DB).")
    var database: String = Environment.string("PULSEGATE_DB") ?? defaults.store.path

    @Option(name: .customLong("postgres-url"), help: "Cluster mode: the PostgreSQL that every node shares, postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]; without it, one process on --db (env PULSEGATE_POSTGRES_URL).")
    var postgresURL: String? = Environment.string("PULSEGATE_POSTGRES_URL")

    @Option(help: "File holding the PostgreSQL password, when the URL has none (env PULSEGATE_POSTGRES_PASSWORD_FILE; or the password itself in PULSEGATE_POSTGRES_PASSWORD).")
    var postgresPasswordFile: String? = Environment.string("PULSEGATE_POSTGRES_PASSWORD_FILE")

    @Option(help: "Cluster mode: this node's name, which its collector's samples carry as node=\"…\" (env PULSEGATE_NODE) (default: the host name).")
    var node: String? = Environment.string("PULSEGATE_NODE")

    @Option(help: Pulsegate.help("Keep raw samples this long, e.g. 7d, 12h (env PULSEGATE_RETENTION).", default: defaults.store.retention), transform: Pulsegate.duration)
    var retention: Duration = Environment.duration("PULSEGATE_RETENTION") ?? defaults.store.retention

    @Option(help: Pulsegate.help("Keep per-minute rollups this long, at least --retention (env PULSEGATE_ROLLUP_RETENTION).", default: defaults.store.rollupRetention), transform: Pulsegate.duration)
    var rollupRetention: Duration = Environment.duration("PULSEGATE_ROLLUP_RETENTION") ?? defaults.store.rollupRetention

    @Option(help: Pulsegate.help("Host collector interval, e.g. 1s, 500ms; 0 turns the collector off (env PULSEGATE_COLLECT_INTERVAL).", default: defaults.collectInterval ?? .zero), transform: Pulsegate.duration)
    var collectInterval: Duration = Environment.duration("PULSEGATE_COLLECT_INTERVAL") ?? defaults.collectInterval ?? .zero

    @Option(help: "Commit when this many samples are pending (env PULSEGATE_BATCH_SIZE).")
    var batchSize: Int = Environment.int("PULSEGATE_BATCH_SIZE") ?? defaults.store.batchSize

    @Option(help: Pulsegate.help("…or when the oldest pending sample is this old, e.g. 1s (env PULSEGATE_BATCH_AGE).", default: defaults.store.batchAge), transform: Pulsegate.duration)
    var batchAge: Duration = Environment.duration("PULSEGATE_BATCH_AGE") ?? defaults.store.batchAge

    @Option(help: "Largest POST /ingest body in bytes; larger ones get 413 (env PULSEGATE_MAX_BODY_BYTES).")
    var maxBodyBytes: Int = Environment.int("PULSEGATE_MAX_BODY_BYTES") ?? defaults.ingest.maxBodyBytes

    @Option(help: "Most samples in one POST /ingest (env PULSEGATE_MAX_SAMPLES_PER_REQUEST).")
    var maxSamplesPerRequest: Int = Environment.int("PULSEGATE_MAX_SAMPLES_PER_REQUEST") ?? defaults.ingest.maxSamplesPerRequest

    @Option(help: "Most new series one POST /ingest may create (env PULSEGATE_MAX_NEW_SERIES_PER_REQUEST).")
    var maxNewSeriesPerRequest: Int = Environment.int("PULSEGATE_MAX_NEW_SERIES_PER_REQUEST") ?? defaults.series.maxNewSeriesPerBatch

    @Option(help: "Most series stored in all; pushes that add more are refused (env PULSEGATE_MAX_SERIES).")
    var maxSeries: Int = Environment.int("PULSEGATE_MAX_SERIES") ?? defaults.series.maxSeries

    @Option(help: "Most labels one sample may have (env PULSEGATE_MAX_LABELS_PER_SAMPLE).")
    var maxLabelsPerSample: Int = Environment.int("PULSEGATE_MAX_LABELS_PER_SAMPLE") ?? defaults.sampleLimits.maxLabels

    @Option(help: "Longest label value in bytes (env PULSEGATE_MAX_LABEL_VALUE_BYTES).")
    var maxLabelValueBytes: Int = Environment.int("PULSEGATE_MAX_LABEL_VALUE_BYTES") ?? defaults.sampleLimits.maxLabelValueLength

    @Option(help: "Largest message a live client may send, in bytes; a larger one closes the connection with 1009 (env PULSEGATE_MAX_LIVE_MESSAGE_BYTES).")
    var maxLiveMessageBytes: Int = Environment.int("PULSEGATE_MAX_LIVE_MESSAGE_BYTES") ?? defaults.maxLiveMessageBytes

    @Flag(help: "Send live frames uncompressed even to clients that offer permessage-deflate (env PULSEGATE_NO_LIVE_COMPRESSION=1).")
    var noLiveCompression = false

    @Option(help: "Most points one series of a /history response may hold, at most 11000 (env PULSEGATE_MAX_QUERY_POINTS).")
    var maxQueryPoints: Int = Environment.int("PULSEGATE_MAX_QUERY_POINTS") ?? defaults.query.maxPoints

    @Option(help: "Most series one /history response may hold (env PULSEGATE_MAX_QUERY_SERIES).")
    var maxQuerySeries: Int = Environment.int("PULSEGATE_MAX_QUERY_SERIES") ?? defaults.query.maxSeries

    @Option(help: Pulsegate.help("Longest from–to range of one /history query, e.g. 31d (env PULSEGATE_MAX_QUERY_RANGE).", default: .milliseconds(defaults.query.maxRange)), transform: Pulsegate.duration)
    var maxQueryRange: Duration = Environment.duration("PULSEGATE_MAX_QUERY_RANGE") ?? .milliseconds(defaults.query.maxRange)

    @Option(help: "Largest request head (request line and header fields) in bytes; beyond it 414 or 431 (env PULSEGATE_MAX_REQUEST_HEAD_BYTES).")
    var maxRequestHeadBytes: Int = Environment.int("PULSEGATE_MAX_REQUEST_HEAD_BYTES") ?? defaults.http.maxRequestHeadBytes

    @Option(help: "Most header fields in one request; beyond it 431 (env PULSEGATE_MAX_REQUEST_HEADERS).")
    var maxRequestHeaders: Int = Environment.int("PULSEGATE_MAX_REQUEST_HEADERS") ?? defaults.http.maxRequestHeaders

    @Option(help: Pulsegate.help("Time a request head may take from its first byte, e.g. 10s, else 408; also how long a silent connection stays open (env PULSEGATE_REQUEST_HEAD_TIMEOUT).", default: defaults.http.requestHeadTimeout), transform: Pulsegate.duration)
    var requestHeadTimeout: Duration = Environment.duration("PULSEGATE_REQUEST_HEAD_TIMEOUT") ?? defaults.http.requestHeadTimeout

    @Option(help: "Most open live (WebSocket) connections; more are refused with 503 (env PULSEGATE_MAX_CONNECTIONS).")
    var maxConnections: Int = Environment.int("PULSEGATE_MAX_CONNECTIONS") ?? defaults.live.maxConnections

    @Option(help: "Bytes queued per live client before frames are dropped for it (env PULSEGATE_OUTBOX_BYTES).")
    var outboxBytes: Int = Environment.int("PULSEGATE_OUTBOX_BYTES") ?? defaults.live.outboxBytes

    @Option(help: Pulsegate.help("Close a live client that stays behind this long, e.g. 10s (env PULSEGATE_SLOW_CLIENT_TIMEOUT).", default: defaults.live.slowClientTimeout), transform: Pulsegate.duration)
    var slowClientTimeout: Duration = Environment.duration("PULSEGATE_SLOW_CLIENT_TIMEOUT") ?? defaults.live.slowClientTimeout

    @Option(help: Pulsegate.help("Write to live clients at most this often; frames published meanwhile go out together, e.g. 10ms (env PULSEGATE_LIVE_FLUSH_INTERVAL).", default: defaults.live.flushInterval), transform: Pulsegate.duration)
    var liveFlushInterval: Duration = Environment.duration("PULSEGATE_LIVE_FLUSH_INTERVAL") ?? defaults.live.flushInterval

    @Option(help: "Samples kept for live clients that resume (env PULSEGATE_RING_SAMPLES).")
    var ringSamples: Int = Environment.int("PULSEGATE_RING_SAMPLES") ?? defaults.live.ringSamples

    @Option(help: Pulsegate.help("Ping live clients this often; one that misses a pong is closed (env PULSEGATE_PING_INTERVAL).", default: defaults.pingInterval), transform: Pulsegate.duration)
    var pingInterval: Duration = Environment.duration("PULSEGATE_PING_INTERVAL") ?? defaults.pingInterval

    @Option(help: "Publish this many synthetic series, for benchmarks and demos; 0 is off (env PULSEGATE_SYNTHETIC_SERIES).")
    var syntheticSeries: Int = Environment.int("PULSEGATE_SYNTHETIC_SERIES") ?? defaults.syntheticSeries

    @Option(help: "…this many times a second (env PULSEGATE_SYNTHETIC_RATE).")
    var syntheticRate: Double = Environment.double("PULSEGATE_SYNTHETIC_RATE") ?? defaults.syntheticRate

    @Option(help: "Directory of the dashboard's files, served at / (env PULSEGATE_PUBLIC_DIR).")
    var publicDir: String = Environment.string("PULSEGATE_PUBLIC_DIR") ?? defaults.publicDirectory

    @Option(help: Pulsegate.help("A live series not updated for this long drops out of /metrics, e.g. 5m (env PULSEGATE_EXPOSITION_STALENESS).", default: defaults.expositionStaleness), transform: Pulsegate.duration)
    var expositionStaleness: Duration = Environment.duration("PULSEGATE_EXPOSITION_STALENESS") ?? defaults.expositionStaleness

    @Option(help: Pulsegate.help("A Pushgateway group not pushed to for this long leaves /metrics, e.g. 1h; 0 keeps groups until deleted, as Pushgateway does; a push's Pulsegate-Group-TTL header overrides it (env PULSEGATE_PUSH_GROUP_TTL).", default: defaults.pushGroupTTL), transform: Pulsegate.duration)
    var pushGroupTTL: Duration = Environment.duration("PULSEGATE_PUSH_GROUP_TTL") ?? defaults.pushGroupTTL

    @Option(help: Pulsegate.help("How long a graceful stop waits for open requests before cancelling them, e.g. 10s (env PULSEGATE_SHUTDOWN_TIMEOUT).", default: defaults.shutdownTimeout), transform: Pulsegate.duration)
    var shutdownTimeout: Duration = Environment.duration("PULSEGATE_SHUTDOWN_TIMEOUT") ?? defaults.shutdownTimeout

    @Option(help: "File of access tokens, one `scopes:token` per line, scopes among read, write, metrics (env PULSEGATE_TOKEN_FILE; or the tokens themselves, space-separated, in PULSEGATE_TOKENS).")
    var tokenFile: String? = Environment.string("PULSEGATE_TOKEN_FILE")

    @Option(name: .customLong("allowed-origin"), help: "An origin (https://example.com) whose pages may open the live stream besides this server's own; repeatable (env PULSEGATE_ALLOWED_ORIGINS, comma-separated).")
    var allowedOrigins: [String] = Environment.string("PULSEGATE_ALLOWED_ORIGINS")?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []

    @Flag(help: "Serve without tokens on an address other than loopback: only on a network where everyone may read and write your metrics (env PULSEGATE_TRUSTED_NETWORK=1).")
    var trustedNetwork = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env PULSEGATE_LOG_LEVEL).")
    var logLevel: String = Environment.string("PULSEGATE_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (1...65_535).contains(port) || port == 0 else { throw ValidationError("--port must be between 0 and 65535") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard batchAge > .zero else { throw ValidationError("--batch-age must be positive") }
        guard retention > .zero else { throw ValidationError("--retention must be positive") }
        guard rollupRetention >= retention else { throw ValidationError("--rollup-retention must be at least --retention") }
        guard maxBodyBytes > 0, maxSamplesPerRequest > 0, maxNewSeriesPerRequest > 0, maxSeries > 0 else {
            throw ValidationError("--max-body-bytes, --max-samples-per-request, --max-new-series-per-request and --max-series must be positive")
        }
        guard (1...1_000).contains(maxLabelsPerSample) else { throw ValidationError("--max-labels-per-sample must be between 1 and 1000") }
        guard (1...1_048_576).contains(maxLabelValueBytes) else { throw ValidationError("--max-label-value-bytes must be between 1 and 1048576") }
        guard (128...16_777_216).contains(maxLiveMessageBytes) else { throw ValidationError("--max-live-message-bytes must be between 128 and 16777216") }
        guard (1...QueryLimits.maxPointsPerSeries).contains(maxQueryPoints) else { throw ValidationError("--max-query-points must be between 1 and \(QueryLimits.maxPointsPerSeries)") }
        guard maxQuerySeries > 0, maxQueryRange > .zero else { throw ValidationError("--max-query-series and --max-query-range must be positive") }
        guard (1_024...1_048_576).contains(maxRequestHeadBytes) else { throw ValidationError("--max-request-head-bytes must be between 1024 and 1048576") }
        guard (1...10_000).contains(maxRequestHeaders) else { throw ValidationError("--max-request-headers must be between 1 and 10000") }
        guard requestHeadTimeout > .zero else { throw ValidationError("--request-head-timeout must be positive") }
        guard maxConnections > 0 else { throw ValidationError("--max-connections must be positive") }
        guard outboxBytes >= 1024 else { throw ValidationError("--outbox-bytes must be at least 1024") }
        guard ringSamples > 0 else { throw ValidationError("--ring-samples must be positive") }
        guard liveFlushInterval >= .zero, liveFlushInterval <= .seconds(1) else { throw ValidationError("--live-flush-interval must be between 0 and 1s") }
        guard pingInterval > .zero, slowClientTimeout > .zero else { throw ValidationError("--ping-interval and --slow-client-timeout must be positive") }
        guard syntheticSeries >= 0, syntheticSeries <= 100_000 else { throw ValidationError("--synthetic-series must be between 0 and 100000") }
        guard syntheticRate > 0, syntheticRate <= 1_000 else { throw ValidationError("--synthetic-rate must be above 0 and at most 1000") }
        guard shutdownTimeout > .zero else { throw ValidationError("--shutdown-timeout must be positive") }
        guard expositionStaleness > .zero else { throw ValidationError("--exposition-staleness must be positive") }
        guard pushGroupTTL >= .zero else { throw ValidationError("--push-group-ttl must be 0 (off) or positive") }
        _ = try accessControl()
        _ = try cluster()
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        var logger = Logger(label: "pulsegate")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let configuration = AppConfiguration(
            host: host,
            port: port,
            store: StoreConfiguration(path: database, batchSize: batchSize, batchAge: batchAge, retention: retention, rollupRetention: rollupRetention),
            cluster: try cluster(),
            live: LiveConfiguration(
                ringSamples: ringSamples, outboxBytes: outboxBytes,
                slowClientTimeout: slowClientTimeout, maxConnections: maxConnections, flushInterval: liveFlushInterval
            ),
            query: QueryLimits(maxSeries: maxQuerySeries, maxRange: maxQueryRange.milliseconds, maxPoints: maxQueryPoints),
            ingest: IngestLimits(maxBodyBytes: maxBodyBytes, maxSamplesPerRequest: maxSamplesPerRequest),
            series: SeriesLimits(maxNewSeriesPerBatch: maxNewSeriesPerRequest, maxSeries: maxSeries),
            http: HTTPLimits(maxRequestHeadBytes: maxRequestHeadBytes, maxRequestHeaders: maxRequestHeaders, requestHeadTimeout: requestHeadTimeout),
            sampleLimits: SampleLimits(maxLabels: maxLabelsPerSample, maxLabelValueLength: maxLabelValueBytes),
            pingInterval: pingInterval,
            maxLiveMessageBytes: maxLiveMessageBytes,
            liveCompression: !(noLiveCompression || Environment.bool("PULSEGATE_NO_LIVE_COMPRESSION") == true) && Self.defaults.liveCompression,
            collectInterval: collectInterval > .zero ? collectInterval : nil,
            syntheticSeries: syntheticSeries,
            syntheticRate: syntheticRate,
            publicDirectory: publicDir,
            shutdownTimeout: shutdownTimeout,
            expositionStaleness: expositionStaleness,
            pushGroupTTL: pushGroupTTL,
            access: try accessControl(),
            origins: OriginPolicy(allowed: allowedOrigins)
        )
        let gateway = try await buildApplication(configuration, logger: logger)
        try await gateway.runService()
    }

    /// The tokens (from the file, else `PULSEGATE_TOKENS`), after the rule that
    /// keeps strangers out: without tokens, only loopback, unless the network
    /// is said to be trusted.
    func accessControl() throws -> AccessControl {
        var tokens: AccessTokens?
        do {
            if let tokenFile {
                let text: String
                do {
                    text = try String(contentsOfFile: tokenFile, encoding: .utf8)
                } catch {
                    throw ValidationError("cannot read --token-file \(tokenFile): \((error as NSError).localizedDescription)")
                }
                tokens = try AccessTokens(parsing: text, origin: tokenFile)
            } else if let text = Environment.string("PULSEGATE_TOKENS") {
                tokens = try AccessTokens(parsing: text, origin: "PULSEGATE_TOKENS")
            }
        } catch let error as AccessTokens.ParseError {
            throw ValidationError(error.description)
        }
        let trusted = trustedNetwork || Environment.bool("PULSEGATE_TRUSTED_NETWORK") == true
        if tokens == nil, !trusted, !Self.isLoopback(host) {
            throw ValidationError("""
                refusing to listen on \(host) without tokens: anyone who can reach it could read and write your metrics. \
                Give tokens with --token-file FILE (lines of scopes:token, e.g. read,write:$(openssl rand -hex 32)) or PULSEGATE_TOKENS, \
                or listen on 127.0.0.1, or, on a network you trust, add --trusted-network.
                """)
        }
        return AccessControl(tokens: tokens)
    }

    /// Cluster mode's settings, when a PostgreSQL URL is given. The password
    /// comes from the URL, else the file, else `PULSEGATE_POSTGRES_PASSWORD`; no
    /// error names it.
    func cluster() throws -> ClusterConfiguration? {
        guard let postgresURL else {
            if node != nil { throw ValidationError("--node names a cluster node: give --postgres-url too (or leave --node out)") }
            return nil
        }
        var settings: PostgresSettings
        do {
            settings = try PostgresSettings(url: postgresURL)
        } catch let error as PostgresSettings.InvalidURL {
            throw ValidationError("--postgres-url: \(error.description)")
        }
        if settings.password == nil {
            if let postgresPasswordFile {
                do {
                    let text = try String(contentsOfFile: postgresPasswordFile, encoding: .utf8)
                    settings.password = text.trimmingCharacters(in: .newlines)
                } catch {
                    throw ValidationError("cannot read --postgres-password-file \(postgresPasswordFile): \((error as NSError).localizedDescription)")
                }
            } else if let password = Environment.string("PULSEGATE_POSTGRES_PASSWORD") {
                settings.password = password
            }
        }
        if let node {
            guard !node.isEmpty, node.utf8.count <= 128, !node.contains(where: \.isNewline) else {
                throw ValidationError("--node must be 1 to 128 bytes, on one line")
            }
            return ClusterConfiguration(postgres: settings, node: node)
        }
        return ClusterConfiguration(postgres: settings)
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// A duration option's help, with its default as ArgumentParser shows the
    /// others' (it shows none for an option read through a transform).
    static func help(_ abstract: String, default value: Duration) -> ArgumentHelp {
        ArgumentHelp("\(abstract) (default: \(DurationText.format(milliseconds: value.milliseconds, largestUnit: "d")))")
    }

    static func duration(_ text: String) throws -> Duration {
        guard let duration = DurationText.duration(text) else {
            throw ValidationError("\"\(text)\" is not a duration: write e.g. 500ms, 15s, 1m, 1h30m, 7d")
        }
        return duration
    }
}
