/// What a token lets its holder do. Each route declares the scope it needs
/// where it is registered (`AccessGroup`, in `buildRouter`).
public enum AccessScope: String, Sendable, CaseIterable, Comparable {
    /// The dashboard's data: `/history`, `/api/series`, the live stream.
    case read
    /// Pushes: `POST /ingest`, `POST /api/v1/write`.
    case write
    /// `GET /metrics`, for a Prometheus scraping the gateway.
    case metrics

    public static func < (lhs: AccessScope, rhs: AccessScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}
