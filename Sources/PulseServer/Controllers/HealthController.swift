import Foundation
import Hummingbird
import PulseCore

/// `GET /healthz`: the process is up and says what it is (liveness).
/// `GET /readyz`: it can take samples now: 503 while the store cannot write
/// (a full disk), so that a load balancer sends pushes elsewhere (readiness).
struct HealthController<Context: RequestContext> {
    /// Where the data is: the SQLite file, or the PostgreSQL URL without its password.
    let database: String
    let mode: Mode
    let startedAt: ContinuousClock.Instant
    let writer: any SampleWriter

    enum Mode {
        /// One process on its SQLite file.
        case embedded
        /// One node of several sharing PostgreSQL.
        case cluster(node: String)
    }

    struct Health: ResponseEncodable {
        let status: String
        let version: String
        let uptimeSeconds: Double
        let database: String
        let mode: String
        /// Only in cluster mode.
        let node: String?

        enum CodingKeys: String, CodingKey {
            case status, version, database, mode, node
            case uptimeSeconds = "uptime_seconds"
        }
    }

    func addRoutes(to router: some RouterMethods<Context>) {
        router.get("/healthz") { _, _ in
            let (modeName, node): (String, String?) = switch mode {
            case .embedded: ("embedded", nil)
            case let .cluster(node): ("cluster", node)
            }
            return Health(
                status: "ok",
                version: BuildInfo.version,
                uptimeSeconds: ((ContinuousClock.now - startedAt).seconds * 1000).rounded() / 1000,
                database: database,
                mode: modeName,
                node: node
            )
        }
        router.get("/readyz") { _, _ -> Response in
            if let error = writer.writeFailure {
                throw APIError(.serviceUnavailable, "not ready: the store cannot write (\(error)); pushes get 503 until it can")
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ready"}"#)))
        }
    }
}
