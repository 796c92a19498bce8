/// A whole store as the gateway runs it (Prometheus's `Storage`: appendable and
/// queryable), with what it reports about itself. The embedded SQLite store and
/// the cluster's PostgreSQL store both are one; the gateway holds only this.
public protocol SampleStorage: SampleWriter, SampleReader {
    /// What the writer has done, for `/metrics`.
    var statistics: WriterStatistics { get }
    /// Bytes the store takes on disk (the SQLite file with its log; the
    /// PostgreSQL database's size, as last measured).
    var databaseBytes: Int { get }
    /// Where the data is, for `/healthz` and logs: a file's path, or a URL
    /// without its password.
    var location: String { get }
    /// Commits everything queued so far.
    func flush() async throws
}

extension SampleReader {
    /// Every stored point with `from <= ts <= to`, per series, ascending.
    public func range(_ selector: SeriesSelector, from: Int64, to: Int64) async throws -> [SeriesPoints] {
        try await range(selector, from: from, to: to, limit: nil)
    }

    /// Every known series (up to 10,000), with its latest sample's ts.
    public func catalog() async throws -> [SeriesInfo] {
        try await catalog(prefix: "", limit: 10_000)
    }
}

/// An error a writer throws when it cannot take samples now but may later
/// (a full queue, a database that does not answer): a push is answered 503
/// with `Retry-After`, never 2xx, and never 4xx, which a client would not retry.
public protocol StoreUnavailableError: Error, CustomStringConvertible {}
