import ArgumentParser
import Logging
import PulseCore
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

    @Option(help: "Address to listen on (env PULSEGATE_HOST).")
    var host: String = Environment.string("PULSEGATE_HOST") ?? "127.0.0.1"

    @Option(help: "Port to listen on (env PULSEGATE_PORT).")
    var port: Int = Environment.int("PULSEGATE_PORT") ?? 8080

    @Option(name: .customLong("db"), help: "SQLite database file; its directory is created (env PULSEGATE_DB).")
    var database: String = Environment.string("PULSEGATE_DB") ?? "data/pulsegate.sqlite"

    @Option(help: "Keep raw samples this long, e.g. 7d, 12h (env PULSEGATE_RETENTION).", transform: Pulsegate.duration)
    var retention: Duration = Environment.duration("PULSEGATE_RETENTION") ?? .seconds(7 * 86_400)

    @Option(help: "Host collector interval, e.g. 1s, 500ms; 0 turns the collector off (env PULSEGATE_COLLECT_INTERVAL).", transform: Pulsegate.duration)
    var collectInterval: Duration = Environment.duration("PULSEGATE_COLLECT_INTERVAL") ?? .seconds(1)

    @Option(help: "Commit when this many samples are pending (env PULSEGATE_BATCH_SIZE).")
    var batchSize: Int = Environment.int("PULSEGATE_BATCH_SIZE") ?? 10_000

    @Option(help: "…or when the oldest pending sample is this old, e.g. 1s (env PULSEGATE_BATCH_AGE).", transform: Pulsegate.duration)
    var batchAge: Duration = Environment.duration("PULSEGATE_BATCH_AGE") ?? .seconds(1)

    @Option(help: "Directory of the dashboard's files, served at / (env PULSEGATE_PUBLIC_DIR).")
    var publicDir: String = Environment.string("PULSEGATE_PUBLIC_DIR") ?? "Public"

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env PULSEGATE_LOG_LEVEL).")
    var logLevel: String = Environment.string("PULSEGATE_LOG_LEVEL") ?? "info"

    func validate() throws {
        guard (1...65_535).contains(port) || port == 0 else { throw ValidationError("--port must be between 0 and 65535") }
        guard batchSize > 0 else { throw ValidationError("--batch-size must be positive") }
        guard batchAge > .zero else { throw ValidationError("--batch-age must be positive") }
        guard retention > .zero else { throw ValidationError("--retention must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical") }
    }

    func run() async throws {
        var logger = Logger(label: "pulsegate")
        logger.logLevel = Logger.Level(rawValue: logLevel) ?? .info
        let configuration = AppConfiguration(
            host: host,
            port: port,
            store: StoreConfiguration(path: database, batchSize: batchSize, batchAge: batchAge, retention: retention),
            collectInterval: collectInterval > .zero ? collectInterval : nil,
            publicDirectory: publicDir
        )
        let app = try await buildApplication(configuration, logger: logger)
        try await app.runService()
    }

    static func duration(_ text: String) throws -> Duration {
        guard let duration = DurationText.duration(text) else {
            throw ValidationError("\"\(text)\" is not a duration: write e.g. 500ms, 15s, 1m, 1h30m, 7d")
        }
        return duration
    }
}
