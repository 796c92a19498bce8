import Foundation
import Hummingbird

/// `GET /healthz`: the process is up and says what it is.
struct HealthController<Context: RequestContext> {
    let databasePath: String
    let startedAt: ContinuousClock.Instant

    struct Health: ResponseEncodable {
        let status: String
        let version: String
        let uptimeSeconds: Double
        let database: String

        enum CodingKeys: String, CodingKey {
            case status, version, database
            case uptimeSeconds = "uptime_seconds"
        }
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/healthz") { _, _ in
            let (seconds, attoseconds) = (ContinuousClock.now - startedAt).components
            return Health(
                status: "ok",
                version: BuildInfo.version,
                uptimeSeconds: (Double(seconds) + Double(attoseconds) / 1e18 * 1000).rounded() / 1000,
                database: databasePath
            )
        }
    }
}
