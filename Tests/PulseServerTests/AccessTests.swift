import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
@testable import PulseServer
import Testing

/// Tokens, scopes and origins through a real server.
@Suite struct AccessTests {
    static let reader = "read:" + String(repeating: "r", count: 24)
    static let writer = "write:" + String(repeating: "w", count: 24)
    static let scraper = "metrics:" + String(repeating: "m", count: 24)
    static let both = "read,write:" + String(repeating: "b", count: 24)

    static func token(_ entry: String) -> String { String(entry.split(separator: ":")[1]) }

    func withTokens(origins: [String] = [], _ body: @Sendable @escaping (any TestClientProtocol, Int) async throws -> Void) async throws {
        let tokens = try AccessTokens(parsing: [Self.reader, Self.writer, Self.scraper, Self.both].joined(separator: "\n"), origin: "test")
        try await withTestGateway({
            $0.access = AccessControl(tokens: tokens)
            $0.origins = OriginPolicy(allowed: origins)
        }) { _, client in
            try await body(client, try #require(client.port))
        }
    }

    func status(_ client: any TestClientProtocol, _ method: HTTPRequest.Method = .get, _ uri: String, token: String? = nil) async throws -> (Int, HTTPFields, String) {
        var headers: HTTPFields = [:]
        if let token { headers[.authorization] = "Bearer \(Self.token(token))" }
        var body: ByteBuffer?
        if method == .post {
            headers[.contentType] = "application/json"
            body = ByteBuffer(string: #"{"samples":[{"metric":"guarded","value":1}]}"#)
        }
        return try await client.execute(uri: uri, method: method, headers: headers, body: body) {
            (Int($0.status.code), $0.headers, String(buffer: $0.body))
        }
    }

    @Test func eachRouteNeedsItsScope() async throws {
        try await withTokens { client, _ in
            for (method, uri, scope) in [(HTTPRequest.Method.get, "/history?metric=guarded", "read"), (.get, "/api/series", "read"), (.post, "/ingest", "write"), (.get, "/metrics", "metrics")] {
                let (missing, headers, body) = try await status(client, method, uri)
                #expect(missing == 401, "\(uri)")
                #expect(headers[.wwwAuthenticate] == #"Bearer realm="pulsegate""#)
                #expect(body.contains(#""error""#) && body.contains("the \(scope) scope"), "\(body)")
                #expect(try await status(client, method, uri, token: "read:" + String(repeating: "x", count: 24)).0 == 401, "unknown token")
            }
            #expect(try await status(client, .get, "/history?metric=guarded", token: Self.reader).0 == 200)
            #expect(try await status(client, .get, "/history?metric=guarded", token: Self.writer).0 == 403)
            #expect(try await status(client, .post, "/ingest", token: Self.writer).0 == 200)
            let (forbidden, _, body) = try await status(client, .post, "/ingest", token: Self.reader)
            #expect(forbidden == 403 && body.contains("do not include write"))
            #expect(try await status(client, .get, "/metrics", token: Self.scraper).0 == 200)
            #expect(try await status(client, .get, "/api/series", token: Self.scraper).0 == 403)
            #expect(try await status(client, .post, "/ingest", token: Self.both).0 == 200)
            #expect(try await status(client, .get, "/api/series", token: Self.both).0 == 200)
            // Open to all: probes, the API's description, the dashboard's files (no data in them).
            #expect(try await status(client, .get, "/healthz").0 == 200)
            #expect(try await status(client, .get, "/openapi.json").0 == 200)
            // A token in the query counts on a WebSocket upgrade only.
            #expect(try await status(client, .get, "/history?metric=guarded&token=\(Self.token(Self.reader))").0 == 401)
            // The scheme is case-insensitive; anything but Bearer is no token.
            let lower = try await client.execute(uri: "/api/series", method: .get, headers: [.authorization: "bearer \(Self.token(Self.reader))"]) { $0.status }
            #expect(lower == .ok)
            let basic = try await client.execute(uri: "/api/series", method: .get, headers: [.authorization: "Basic \(Self.token(Self.reader))"]) { $0.status }
            #expect(basic == .unauthorized)
        }
    }

    /// The public list, written here apart from the code's own.
    static let publicPaths: Set<String> = ["/healthz", "/readyz", "/openapi.json"]

    @Test func everyRegisteredRouteDeclaresItsAccess() async throws {
        try await withTestGateway { gateway, _ in
            #expect(gateway.httpRoutes.routes.count >= 8, "\(gateway.httpRoutes.routes)")
            #expect(gateway.httpRoutes.problems(publicPaths: Self.publicPaths) == [])
            #expect(!gateway.webSocketRoutes.routes.isEmpty)
            #expect(gateway.webSocketRoutes.problems(publicPaths: []) == [], "no WebSocket route is open")
            #expect(gateway.webSocketRoutes.table.access(method: .get, path: "/ws/metrics") == .scope(.read))
        }
        // The check itself, over a router built here with the defects it must find.
        let registry = RouteAccessRegistry()
        let router = Router()
        AccessGroup(.scope(.read), on: router, control: .open, registry: registry).get("/fine") { _, _ in "data" }
        AccessGroup(.open, on: router, control: .open, registry: registry).get("/healthz") { _, _ in "ok" }
        router.get("/leak") { _, _ in "data without a scope" }
        AccessGroup(.open, on: router, control: .open, registry: registry).post("/sneaky") { _, _ in "open, not listed" }
        let problems = RouteInventory(router: router, table: registry.table).problems(publicPaths: Self.publicPaths)
        #expect(problems.count == 2, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("GET /leak has no declared access") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("POST /sneaky is declared open but is not on the list") }, "\(problems)")
    }

    @Test func publicRoutesAreOpenAndEveryProtectedRouteNeedsItsScope() async throws {
        let files = NSTemporaryDirectory() + "pulsegate-public-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: files, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: files) }
        try "<html>dashboard</html>".write(toFile: files + "/index.html", atomically: true, encoding: .utf8)
        try "console.log(1)".write(toFile: files + "/app.js", atomically: true, encoding: .utf8)
        let tokens = try AccessTokens(parsing: [Self.reader, Self.writer, Self.scraper].joined(separator: "\n"), origin: "test")
        try await withTestGateway({
            $0.access = AccessControl(tokens: tokens)
            $0.publicDirectory = files
        }) { gateway, client in
            for uri in ["/healthz", "/readyz", "/openapi.json", "/", "/index.html", "/app.js"] {
                #expect(try await status(client, .get, uri).0 == 200, "\(uri) is open")
            }
            // Every scoped route the router has, with a request it answers and the status of that answer.
            let requests: [String: (uri: String, answered: Int)] = [
                "GET /history": ("/history?metric=guarded", 200), "GET /api/series": ("/api/series", 200),
                "GET /ws/metrics": ("/ws/metrics", 426), "POST /ingest": ("/ingest", 200), "GET /metrics": ("/metrics", 200),
                "POST /api/v1/write": ("/api/v1/write", 415),  // reached: no protobuf content type
                "GET /api/v1/push-groups": ("/api/v1/push-groups", 200),
                // The Pushgateway API's; a POST here carries JSON, which its text parser refuses.
                "PUT /metrics/job/**": ("/metrics/job/a", 200), "POST /metrics/job/**": ("/metrics/job/a", 400),
                "DELETE /metrics/job/**": ("/metrics/job/a", 202),
                "PUT /metrics/job@base64/**": ("/metrics/job@base64/YQ", 200), "POST /metrics/job@base64/**": ("/metrics/job@base64/YQ", 400),
                "DELETE /metrics/job@base64/**": ("/metrics/job@base64/YQ", 202),
            ]
            let holder: [AccessScope: String] = [.read: Self.reader, .write: Self.writer, .metrics: Self.scraper]
            var tried = 0
            for route in gateway.httpRoutes.routes {
                guard case let .scope(scope) = gateway.httpRoutes.table.entries[route] else { continue }
                let request = try #require(requests[route.description], "no request to try for \(route)")
                let method = HTTPRequest.Method(route.method)!
                #expect(try await status(client, method, request.uri).0 == 401, "\(route) without a token")
                let wrong = holder.first { $0.key != scope }!.value
                #expect(try await status(client, method, request.uri, token: wrong).0 == 403, "\(route) with a token of another scope")
                #expect(try await status(client, method, request.uri, token: holder[scope]!).0 == request.answered, "\(route) with its scope")
                tried += 1
            }
            #expect(tried == requests.count, "every protected route was tried")
            // A path no route serves: 404 with or without a token, no data.
            #expect(try await status(client, .get, "/no-such-path").0 == 404)
        }
    }

    @Test func theLiveStreamTakesTheTokenFromTheQueryOrTheHeader() async throws {
        try await withTokens { _, port in
            let none = try await RawWebSocket.open(port: port)
            #expect(none.status == 401)
            #expect(none.response.lowercased().contains("www-authenticate: bearer"))
            #expect(await none.readRest().contains("the read scope"))
            #expect(try await RawWebSocket.open(port: port, query: "token=\(Self.token(Self.writer))").status == 403)
            #expect(try await RawWebSocket.open(port: port, query: "token=\(Self.token(Self.reader))").status == 101)
            #expect(try await RawWebSocket.open(port: port, headers: ["Authorization": "Bearer \(Self.token(Self.both))"]).status == 101)
            let client = try await LiveClient.connect(port: port, query: "token=\(Self.token(Self.reader))")
            await client.close()
        }
    }

    @Test func crossSiteUpgradesAreRefused() async throws {
        try await withTokens(origins: ["https://dash.example.com"]) { _, port in
            let token = "token=\(Self.token(Self.reader))"
            let evil = try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "https://evil.example"])
            #expect(evil.status == 403)
            #expect(await evil.readRest().contains("--allowed-origin https://evil.example"))
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "http://127.0.0.1:\(port)"]).status == 101, "same origin")
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "https://dash.example.com"]).status == 101, "allowed")
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "http://127.0.0.1:\(port + 1)"]).status == 403, "another port is another origin")
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "null"]).status == 403, "a sandboxed or file page")
            #expect(try await RawWebSocket.open(port: port, query: token).status == 101, "no Origin: not a browser page")
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "ws://127.0.0.1"]).status == 101, "a client library's")
            #expect(try await RawWebSocket.open(port: port, query: token, headers: ["Origin": "ws://evil.example"]).status == 403)
        }
    }

    @Test func tokensAreParsedStrictlyAndErrorsDoNotRepeatThem() throws {
        let tokens = try AccessTokens(parsing: "# readers\nread:\(String(repeating: "a", count: 16))  # the dashboard\n\nread,write,metrics:\(String(repeating: "b", count: 40))", origin: "f")
        #expect(tokens.scopes(of: Array(String(repeating: "a", count: 16).utf8)) == [.read])
        #expect(tokens.scopes(of: Array(String(repeating: "b", count: 40).utf8)) == [.read, .write, .metrics])
        #expect(tokens.scopes(of: Array(String(repeating: "a", count: 15).utf8)) == nil)
        #expect(tokens.scopes(of: Array((String(repeating: "a", count: 16) + "a").utf8)) == nil)
        #expect(tokens.scopes(of: Array((String(repeating: "a", count: 16) + String(repeating: "a", count: 256)).utf8)) == nil)
        for (text, message) in [
            ("secretsecretsecret1", "write each token as scopes:token"), ("admin:secretsecretsecret2", "unknown scope"),
            ("read:short", "at least 16"), (":secretsecretsecret3", "at least one scope"), ("read:secret secretsecretsecret", "at least 16"),
            ("read:secretsecret\"secret4", "only letters"), ("# nothing", "no token"),
        ] {
            #expect(throws: AccessTokens.ParseError.self) { try AccessTokens(parsing: text, origin: "f") }
            do {
                _ = try AccessTokens(parsing: text, origin: "f")
            } catch {
                #expect(error.description.contains(message), "\(text): \(error)")
                #expect(!error.description.contains("secret"), "\(error)")
            }
        }
    }

    @Test func redactedLogsKeepNoToken() {
        #expect(RequestLogMiddleware<BasicRequestContext>.redacted("/ws/metrics", query: "metric=a&token=s3cr3t&since=4") == "/ws/metrics?metric=a&token=<redacted>&since=4")
        #expect(RequestLogMiddleware<BasicRequestContext>.redacted("/x", query: "%74oken=s3cr3t") == "/x?token=<redacted>")
    }
}
