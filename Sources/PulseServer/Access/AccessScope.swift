/// What a token lets its holder do.
public enum AccessScope: String, Sendable, CaseIterable, Comparable {
    /// The dashboard's data: `/history`, `/api/series`, the live stream.
    case read
    /// `POST /ingest`.
    case write
    /// `GET /metrics`, for a Prometheus scraping the gateway.
    case metrics

    public static func < (lhs: AccessScope, rhs: AccessScope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// The scope a request to `path` needs; nil for what anyone may fetch:
    /// `/healthz` (for probes), `/openapi.json`, and the dashboard's files,
    /// which hold no data (the page asks for a token when the data needs one).
    static func required(forPath path: String) -> AccessScope? {
        switch path {
        case "/history", "/api/series", LiveController.path: .read
        case "/ingest": .write
        case "/metrics": .metrics
        default: nil
        }
    }
}
