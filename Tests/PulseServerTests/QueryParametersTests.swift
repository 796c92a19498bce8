import Foundation
import Hummingbird
import HummingbirdTesting
import PulseCore
import Testing

@testable import PulseServer

/// `/history`, `/api/series` and the live upgrade read their query the same
/// way: names and values decoded as forms write them, a parameter given twice
/// refused alike, every refusal a 400 with a JSON `error` naming the parameter.
@Suite struct QueryParametersTests {
    @Test func namesAndValuesAreDecodedAsForms() throws {
        let query = QueryParameters("%6Detric=a+b%2Bc&x%21=%E2%82%AC&flag&bad=%zz&metric=second")
        #expect(query.pairs.map(\.name) == ["metric", "x!", "flag", "bad", "metric"])
        #expect(query.pairs.map(\.value) == ["a b+c", "€", "", "%zz", "second"])
        #expect(query.values("metric") == ["a b+c", "second"])
        #expect(throws: APIError.self) { try query.value("metric") }
        #expect(try query.value("flag") == "")
        #expect(try query.value("absent") == nil)
    }

    @Test func integersAreNonNegativeAndGivenOnce() throws {
        #expect(try QueryParameters("since=42").integer("since", as: UInt64.self) == 42)
        for text in ["since=-1", "since=4x", "since=", "since=1&since=2", "since=99999999999999999999"] {
            #expect(throws: APIError.self, "\(text)") { try QueryParameters(text).integer("since", as: UInt64.self) }
        }
    }

    /// The same mistakes get the same answer from every endpoint: 400, JSON, the parameter named.
    @Test func everyEndpointRefusesARepeatedParameterAlike() async throws {
        try await withTestGateway({ _ in }) { gateway, client in
            let port = try #require(client.port)
            let cases: [(String, String)] = [
                ("/history?metric=a&from=-1h&from=-2h", "from"), ("/history?metric=a&metric=b", "metric"),
                ("/api/series?prefix=a&prefix=b", "prefix"),
            ]
            for (uri, name) in cases {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .badRequest, "\(uri)")
                    #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
                    let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                    #expect(object?["error"] as? String == "\(name) is given more than once", "\(uri)")
                }
            }
            for query in ["since=1&since=2", "since_ts=1&since_ts=2", "instance=a&instance=b&since=1"] {
                let raw = try await RawWebSocket.open(port: port, query: query)
                #expect(raw.status == 400, "\(query): \(raw.response)")
                let name = String(query.prefix { $0 != "=" })
                #expect(await raw.readRest().contains(#"{"error":"\#(name) is given more than once"}"#), "\(query)")
            }
        }
    }

    /// A percent-encoded name means the same on the live upgrade as on `/history`.
    @Test func theLiveUpgradeDecodesNamesAsHistoryDoes() async throws {
        try await withTestGateway({ _ in }) { gateway, client in
            let port = try #require(client.port)
            let live = try await LiveClient.connect(port: port, query: "%6Detric=wanted_*")
            _ = try await live.frames(1)  // hello
            try await gateway.pipeline.accept(
                [Sample(metric: "other", timestamp: testEpoch, value: 1), Sample(metric: "wanted_one", timestamp: testEpoch, value: 2)],
                from: .ingest, durability: .committed
            )
            let frame = try #require(try await live.frames(2).last)
            let samples = try #require(frame["samples"] as? [[String: Any]])
            #expect(samples.map { $0["metric"] as? String } == ["wanted_one"], "the filter was decoded: \(frame)")
            await live.close()
            try await client.execute(uri: "/history?%6Detric=wanted_one&from=\(testEpoch - 1)&to=\(testEpoch + 1)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""points":[[\#(testEpoch),2.0]]"#))
            }
        }
    }
    /// `?token=` on the upgrade is read like every parameter: percent-decoded, given once.
    @Test func theUpgradesTokenIsReadAsAnyParameter() async throws {
        let tokens = try AccessTokens(parsing: "read:plus+slash/equals=0123456789", origin: "test")
        try await withTestGateway({ $0.access = AccessControl(tokens: tokens) }) { _, client in
            let port = try #require(client.port)
            let encoded = try await RawWebSocket.open(port: port, query: "token=plus%2Bslash%2Fequals%3D0123456789")
            #expect(encoded.status == 101, "\(encoded.response)")
            encoded.drop()
            let twice = try await RawWebSocket.open(port: port, query: "token=plus%2Bslash%2Fequals%3D0123456789&token=x")
            #expect(twice.status == 400, "\(twice.response)")
            #expect(await twice.readRest().contains(#"{"error":"token is given more than once"}"#))
        }
    }
}
