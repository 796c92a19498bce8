import PulseCore
import PulseLive
import PulseStore

/// Everything the gateway can be told at start. The executable fills it from
/// flags and `PULSEGATE_*` variables; tests build it directly.
public struct AppConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var store: StoreConfiguration
    /// Cluster mode (the store in PostgreSQL, shared with other nodes); nil runs on `store`'s SQLite file.
    public var cluster: ClusterConfiguration?
    public var live: LiveConfiguration
    public var query: QueryLimits
    public var ingest: IngestLimits
    /// Bounds on series (cardinality), per batch and in all, whatever the source.
    public var series: SeriesLimits
    /// Bounds on request heads: size, header fields, time.
    public var http: HTTPLimits
    /// Bounds on every sample's name and labels, whatever its source.
    public var sampleLimits: SampleLimits
    /// How often live connections are pinged; a peer that misses a pong is closed.
    public var pingInterval: Duration
    /// Largest message a live client may send.
    public var maxLiveMessageBytes: Int
    /// Whether live clients that offer permessage-deflate get compressed frames.
    public var liveCompression: Bool
    /// How often the host collector reads `/proc`; nil turns it off.
    public var collectInterval: Duration?
    /// Where the collector reads from; tests point it at fixtures.
    public var procRoot: String
    /// Synthetic series published `syntheticRate` times a second; 0 turns them off.
    public var syntheticSeries: Int
    public var syntheticRate: Double
    /// The dashboard's files, served at `/`.
    public var publicDirectory: String
    /// How long a graceful stop waits for connections to finish (a request
    /// being uploaded, say) before it cancels them; what was accepted is still committed.
    public var shutdownTimeout: Duration
    /// A live series not updated for this long drops out of `/metrics`.
    public var expositionStaleness: Duration
    /// A Pushgateway group not pushed to for this long leaves `/metrics`
    /// (a push may say otherwise); zero keeps groups until deleted, as Pushgateway does.
    public var pushGroupTTL: Duration
    /// Tokens and scopes; `.open` without tokens.
    public var access: AccessControl
    /// Pages of other origins allowed to open the live stream.
    public var origins: OriginPolicy

    public init(
        host: String = "127.0.0.1",
        port: Int = 8080,
        store: StoreConfiguration = StoreConfiguration(),
        cluster: ClusterConfiguration? = nil,
        live: LiveConfiguration = LiveConfiguration(),
        query: QueryLimits = QueryLimits(),
        ingest: IngestLimits = IngestLimits(),
        series: SeriesLimits = SeriesLimits(),
        http: HTTPLimits = HTTPLimits(),
        sampleLimits: SampleLimits = .default,
        pingInterval: Duration = .seconds(15),
        maxLiveMessageBytes: Int = 16 * 1024,
        liveCompression: Bool = true,
        collectInterval: Duration? = .seconds(1),
        procRoot: String = "/proc",
        syntheticSeries: Int = 0,
        syntheticRate: Double = 10,
        publicDirectory: String = "Public",
        shutdownTimeout: Duration = .seconds(10),
        expositionStaleness: Duration = .seconds(300),
        pushGroupTTL: Duration = .zero,
        access: AccessControl = .open,
        origins: OriginPolicy = OriginPolicy()
    ) {
        self.host = host
        self.port = port
        self.store = store
        self.cluster = cluster
        self.live = live
        self.query = query
        self.ingest = ingest
        self.series = series
        self.http = http
        self.sampleLimits = sampleLimits
        self.pingInterval = pingInterval
        self.maxLiveMessageBytes = maxLiveMessageBytes
        self.liveCompression = liveCompression
        self.collectInterval = collectInterval
        self.procRoot = procRoot
        self.syntheticSeries = syntheticSeries
        self.syntheticRate = syntheticRate
        self.publicDirectory = publicDirectory
        self.shutdownTimeout = shutdownTimeout
        self.expositionStaleness = expositionStaleness
        self.pushGroupTTL = pushGroupTTL
        self.access = access
        self.origins = origins
    }
}
