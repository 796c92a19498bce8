import Foundation
import Hummingbird
import HummingbirdTesting
import PulseServer
import Testing

/// `GET /openapi.json` through a real server. Whether the server does what the
/// document says is checked by `scripts/api-check` (schemathesis), run by `scripts/test`.
@Suite struct OpenAPITests {
    @Test func servesAnOpenAPI31DocumentOfEveryEndpoint() async throws {
        try await withTestGateway { _, client in
            try await client.execute(uri: "/openapi.json", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "application/json")
                let document = try #require(JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any])
                let version = try #require(document["openapi"] as? String)
                #expect(version.hasPrefix("3.1"))
                #expect((document["info"] as? [String: Any])?["version"] as? String == BuildInfo.version)
                let paths = try #require(document["paths"] as? [String: Any])
                for path in ["/history", "/api/series", "/ingest", "/api/v1/write", "/metrics/job/{job}", "/api/v1/push-groups", "/healthz", "/metrics", "/openapi.json"] {
                    #expect(paths[path] != nil, "\(path) is not in the document")
                }
            }
        }
    }
}
