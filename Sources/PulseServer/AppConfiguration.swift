import PulseStore

/// Everything the gateway can be told at start. The executable fills it from
/// flags and `PULSEGATE_*` variables; tests build it directly.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var store: StoreConfiguration
    /// How often the host collector reads `/proc`; nil turns it off.
    public var collectInterval: Duration?
    /// Where the collector reads from; tests point it at fixtures.
    public var procRoot: String
    /// The dashboard's files, served at `/`.
    public var publicDirectory: String

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        store: StoreConfiguration = StoreConfiguration(),
        collectInterval: Duration? = .seconds(1),
        procRoot: String = "/proc",
        publicDirectory: String = "Public"
    ) {
        self.host = host
        self.port = port
        self.store = store
        self.collectInterval = collectInterval
        self.procRoot = procRoot
        self.publicDirectory = publicDirectory
    }
}
