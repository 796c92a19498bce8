import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PulseCore
import PulseServer
import PulseStore
import PulseTestSupport
import Testing

/// The gateway in-process, through a real HTTP server on loopback.
@Suite struct ServerTests {
    final class Scratch: Sendable {
        let directory = NSTemporaryDirectory() + "pulsegate-server-\(UUID().uuidString)"
        init() throws {
            try FileManager.default.createDirectory(atPath: directory + "/public", withIntermediateDirectories: true)
            try "<!doctype html><title>Pulsegate test page</title>".write(toFile: directory + "/public/index.html", atomically: true, encoding: .utf8)
        }
        deinit { try? FileManager.default.removeItem(atPath: directory) }

        func configuration(collectInterval: Duration? = nil, retention: Duration = .seconds(7 * 86_400)) -> AppConfiguration {
            AppConfiguration(
                host: "127.0.0.1", port: 0,
                store: StoreConfiguration(path: directory + "/db/pulsegate.sqlite", batchSize: 1_000_000, batchAge: .seconds(3600), retention: retention),
                collectInterval: collectInterval,
                publicDirectory: directory + "/public"
            )
        }
    }

    struct Health: Decodable {
        let status: String
        let version: String
        let uptime_seconds: Double
        let database: String
    }

    @Test func healthzSaysWhatRuns() async throws {
        let scratch = try Scratch()
        let app = try await buildApplication(scratch.configuration())
        try await app.application.test(.live) { client in
            try await client.execute(uri: "/healthz", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let health = try JSONDecoder().decode(Health.self, from: Data(buffer: response.body))
                #expect(health.status == "ok")
                #expect(health.version == BuildInfo.version)
                #expect(health.uptime_seconds >= 0)
                #expect(health.database == scratch.directory + "/db/pulsegate.sqlite")
            }
        }
    }

    @Test func servesTheDashboardAtRoot() async throws {
        let scratch = try Scratch()
        let app = try await buildApplication(scratch.configuration())
        try await app.application.test(.live) { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("Pulsegate test page"))
            }
            try await client.execute(uri: "/no-such-file.js", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/../../../etc/passwd", method: .get) { response in
                #expect(response.status != .ok)
                #expect(!String(buffer: response.body).contains("root:"))
            }
        }
    }

    /// A served path asked with another method: 405 with `Allow`, not the router's 404.
    @Test(arguments: [
        (HTTPRequest.Method.trace, "/healthz", "GET"), (.delete, "/history", "GET"), (.post, "/api/series", "GET"),
        (.get, "/ingest", "POST"), (.put, "/ingest/", "POST"), (.patch, "/openapi.json", "GET"), (.post, "/ws/metrics", "GET"),
    ])
    func otherMethodsOnAServedPathAre405WithAllow(_ method: HTTPRequest.Method, _ path: String, _ allow: String) async throws {
        try await withTestGateway { _, client in
            try await client.execute(uri: path, method: method) { response in
                #expect(response.status == .methodNotAllowed)
                #expect(response.headers[.allow] == allow)
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                let body = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect((body?["error"] as? String)?.contains("use \(allow)") == true)
            }
            try await client.execute(uri: "/no-such-path", method: method) { #expect($0.status == .notFound) }
        }
    }

    @Test func theCollectorWritesThroughThePipelineAndStopCommitsIt() async throws {
        let scratch = try Scratch()
        let configuration = scratch.configuration(collectInterval: .milliseconds(100))
        let app = try await buildApplication(configuration)
        try await app.application.test(.live) { client in
            // Each collection is one batch through the pipeline, and the hub sees each.
            #expect(await eventually(timeout: .seconds(30)) { app.hub.statistics.published >= 3 })
            try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) }
        }
        // The batch age is an hour: only the graceful stop can have committed these.
        let store = try SampleStore.open(configuration.store)
        let memory = try await store.range(.init(metric: "host_memory_total_bytes"), from: 0, to: .max)
        #expect((memory.first?.points.count ?? 0) >= 3)
        await store.close()
    }

    @Test func theStoreServiceEnforcesRetention() async throws {
        let scratch = try Scratch()
        let configuration = scratch.configuration(retention: .seconds(86_400))
        let now = Timestamp.now()
        let seeded = try SampleStore.open(configuration.store)
        try await seeded.write([
            Sample(metric: "seeded", timestamp: now - 3 * 86_400_000, value: 1),
            Sample(metric: "seeded", timestamp: now - 2 * 86_400_000, value: 2),
            Sample(metric: "seeded", timestamp: now - 60_000, value: 3),
        ], durability: .committed)
        await seeded.close()

        let app = try await buildApplication(configuration)
        try await app.application.test(.live) { client in
            // The service runs retention as it starts, then every minute.
            let pruned = try await eventually(timeout: .seconds(10)) {
                try await app.store.range(SeriesSelector(metric: "seeded"), from: 0, to: .max).first?.points.count == 1
            }
            #expect(pruned)
            // Counted: the two rows older than the retention.
            let scrape = try await client.execute(uri: "/metrics", method: .get) { MetricsTests.Scrape(String(buffer: $0.body)) }
            #expect(scrape["pulsegate_store_retention_deleted_rows_total"] == 2)
        }
    }
}
