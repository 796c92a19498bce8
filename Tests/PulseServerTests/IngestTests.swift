import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PulseCore
import PulseServer
import PulseStore
import Testing

/// `POST /ingest` through a real server.
@Suite struct IngestTests {
    func withGateway(
        ingest: IngestLimits = IngestLimits(), series: SeriesLimits = SeriesLimits(),
        _ body: @Sendable @escaping (Gateway, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await withTestGateway({ $0.ingest = ingest; $0.series = series }, body)
    }

    func post(_ client: any TestClientProtocol, _ body: String, contentType: String = "application/json") async throws -> (Int, [String: Any]) {
        try await post(client, Array(body.utf8), contentType: contentType)
    }

    func post(_ client: any TestClientProtocol, _ bytes: [UInt8], contentType: String = "application/json") async throws -> (Int, [String: Any]) {
        try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: contentType], body: ByteBuffer(bytes: bytes)) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
            return (Int(response.status.code), object)
        }
    }

    func stored(_ gateway: Gateway, _ metric: String) async throws -> [Point] {
        try await gateway.store.range(SeriesSelector(metric: metric), from: 0, to: Timestamp.latest).flatMap(\.points)
    }

    @Test func acceptedSamplesAreCommittedThenQueryable() async throws {
        try await withGateway { gateway, client in
            let before = Timestamp.now()
            let (status, object) = try await post(client, #"""
                {"samples":[
                  {"metric":"pushed","labels":{"job":"a","v":"'; DROP TABLE samples; -- ünï 🚀"},"ts":1764470000000,"value":1.5},
                  {"metric":"pushed","labels":{"job":"b"},"value":-2}
                ]}
                """#)
            #expect(status == 200)
            #expect(object["accepted"] as? Int == 2)
            // Durable on return: the store's own reader sees both at once.
            let series = try await gateway.store.range(SeriesSelector(metric: "pushed"), from: 0, to: Timestamp.latest)
            #expect(series.count == 2)
            #expect(series.first { $0.key[label: "job"] == "a" }?.key[label: "v"] == "'; DROP TABLE samples; -- ünï 🚀")
            #expect(series.first { $0.key[label: "job"] == "a" }?.points == [Point(1_764_470_000_000, 1.5)])
            let nowPoint = try #require(series.first { $0.key[label: "job"] == "b" }?.points.first)
            #expect(nowPoint.timestamp >= before && nowPoint.timestamp <= Timestamp.now(), "ts defaults to now")
            let (historyStatus, body) = try await client.execute(uri: "/history?metric=pushed&job=a&from=1764470000000&to=1764470000000", method: .get) {
                (Int($0.status.code), String(buffer: $0.body))
            }
            #expect(historyStatus == 200)
            #expect(body.contains("[1764470000000,1.5]"))
        }
    }

    @Test func acceptedSamplesAreBroadcastLive() async throws {
        try await withGateway { _, client in
            let live = try await LiveClient.connect(port: try #require(client.port), query: "metric=pushed_live")
            let (status, _) = try await post(client, #"{"samples":[{"metric":"pushed_live","ts":1764470000000,"value":7}]}"#)
            #expect(status == 200)
            let frames = try await live.frames(2)
            let sample = try #require((frames[1]["samples"] as? [[String: Any]])?.first)
            #expect(sample["metric"] as? String == "pushed_live")
            #expect(sample["value"] as? Double == 7)
            await live.close()
        }
    }

    @Test func oneBadSampleRefusesTheRequestAndNamesEachProblem() async throws {
        try await withGateway { gateway, client in
            let (status, object) = try await post(client, #"""
                {"samples":[
                  {"metric":"ok_metric","value":1},
                  {"metric":"bad-name","value":1},
                  {"metric":"ok_metric","labels":{"__reserved":"x","a":""},"ts":1.5,"value":"1"}
                ]}
                """#)
            #expect(status == 400)
            let problems = try #require(object["problems"] as? [[String: Any]])
            let summary = Set(problems.map { "\($0["index"] as? Int ?? -1) \($0["field"] as? String ?? "")" })
            #expect(summary == ["1 metric", "2 labels.__reserved", "2 labels.a", "2 ts", "2 value"], "\(problems)")
            #expect(try await stored(gateway, "ok_metric").isEmpty, "nothing of a refused request is stored")
        }
    }

    @Test(arguments: [
        ("", "not valid JSON"),
        (#"{"samples":[{"metric":"m","value":1}"#, "not valid JSON"),
        ("[]", "must be a JSON object"),
        (#"{"samples":{}}"#, "exactly one"),
        (#"{"samples":[],"extra":1}"#, "unknown member"),
        (#"{"samples":[1]}"#, "must be an object"),
        (#"{"samples":[{"metric":"m"}]}"#, "value"),
        (#"{"samples":[{"value":1}]}"#, "metric"),
        (#"{"samples":[{"metric":"m","value":1e400}]}"#, "finite"),
        (#"{"samples":[{"metric":"m","value":1,"value":2}]}"#, "more than once"),
        (#"{"samples":[{"metric":"m","labels":{"a":"1","a":"2"},"value":1}]}"#, "more than once"),
        (#"{"samples":[{"metric":"m","labels":{"a":1},"value":1}]}"#, "must be a string"),
        (#"{"samples":[{"metric":"m","ts":-1,"value":1}]}"#, "milliseconds"),
        (#"{"samples":[{"metric":"m","ts":99999999999999999999,"value":1}]}"#, "whole number"),
        (#"{"samples":[{"metric":"m","value":1,"colour":"red"}]}"#, "unknown field"),
    ])
    func malformedBodiesAreA400(_ body: String, _ message: String) async throws {
        try await withGateway { gateway, client in
            let (status, object) = try await post(client, body)
            #expect(status == 400, "\(body)")
            let text = (object["error"] as? String ?? "") + ((object["problems"] as? [[String: Any]]) ?? []).map { "\($0["field"] ?? "") \($0["reason"] ?? "")" }.joined()
            #expect(text.contains(message), "\(body): \(object)")
            #expect(try await gateway.store.catalog().isEmpty)
        }
    }

    /// Clients that think in floats write `ts` as `1764470000000.0` or `1.76447e12`:
    /// a whole number is a whole number. Media types are compared whole.
    @Test func floatWrittenTimestampsAndMediaTypes() async throws {
        try await withGateway { gateway, client in
            let body = #"{"samples":[{"metric":"floaty","labels":{"n":"1"},"ts":1764470000000.0,"value":1},{"metric":"floaty","labels":{"n":"2"},"ts":1.76447e12,"value":2}]}"#
            #expect(try await post(client, body, contentType: "application/json; charset=utf-8").0 == 200)
            #expect(try await stored(gateway, "floaty").map(\.timestamp) == [1_764_470_000_000, 1_764_470_000_000])
            #expect(try await post(client, #"{"samples":[{"metric":"floaty","ts":1764470000000.5,"value":1}]}"#).0 == 400)
            #expect(try await post(client, body, contentType: "application/jsonfoo").0 == 415)
            #expect(try await post(client, "floaty 1", contentType: "text/plainer").0 == 415)
            let (gzipped, _) = try await post(client, gzipped: try Self.gzip(Array(body.utf8)), encoding: "x-gzip")
            #expect(gzipped == 200)
        }
    }

    @Test func invalidUTF8AndDeepNestingAreA400() async throws {
        try await withGateway { _, client in
            let (badUTF8, _) = try await post(client, Array(#"{"samples":[{"metric":"m","labels":{"a":""#.utf8) + [0xFF, 0xFE] + Array(#""},"value":1}]}"#.utf8))
            #expect(badUTF8 == 400)
            let (deep, _) = try await post(client, String(repeating: "[", count: 10_000))
            #expect(deep == 400)
        }
    }

    @Test func prometheusTextIsAccepted() async throws {
        try await withGateway { gateway, client in
            let (status, object) = try await post(client, """
                # TYPE pushed_text gauge
                pushed_text{job="a"} 3.5 1764470000000
                pushed_text{job="b"} 4
                """, contentType: "text/plain; version=0.0.4")
            #expect(status == 200, "\(object)")
            #expect(object["accepted"] as? Int == 2)
            #expect(try await gateway.store.range(SeriesSelector(metric: "pushed_text", matchers: [.equal("job", "a")]), from: 0, to: Timestamp.latest).first?.points == [Point(1_764_470_000_000, 3.5)])
            let (bad, badObject) = try await post(client, "pushed_text 1\npushed_text{job=\"c\"} NaN\n", contentType: "text/plain")
            #expect(bad == 400)
            #expect(((badObject["problems"] as? [[String: Any]])?.first?["index"] as? Int) == 2, "the line number")
        }
    }

    /// gzip-compresses with the system's `gzip` (part of every Debian base system).
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/gzip")
        process.arguments = ["-c"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data(bytes))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Array(data)
    }

    func post(_ client: any TestClientProtocol, gzipped bytes: [UInt8], encoding: String = "gzip") async throws -> (Int, [String: Any]) {
        try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json", .contentEncoding: encoding], body: ByteBuffer(bytes: bytes)) { response in
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: response.body))) as? [String: Any] ?? [:]
            return (Int(response.status.code), object)
        }
    }

    @Test func gzipBodiesAreInflatedWithinTheBound() async throws {
        try await withGateway(ingest: IngestLimits(maxBodyBytes: 4_096)) { gateway, client in
            let body = try Self.gzip(Array(#"{"samples":[{"metric":"zipped","ts":1764470000000,"value":1}]}"#.utf8))
            let (status, object) = try await post(client, gzipped: body)
            #expect(status == 200, "\(object)")
            #expect(try await stored(gateway, "zipped") == [Point(1_764_470_000_000, 1)])

            // 1 MB of spaces compresses to about 1 KB: under the bound on the wire, far over it inflated.
            let bomb = try Self.gzip(Array(#"{"samples":["#.utf8) + [UInt8](repeating: 0x20, count: 1_000_000) + Array("]}".utf8))
            #expect(bomb.count < 4_096)
            let (tooLarge, _) = try await post(client, gzipped: bomb)
            #expect(tooLarge == 413)

            let (corrupt, corruptObject) = try await post(client, gzipped: Array(body.prefix(body.count / 2)))
            #expect(corrupt == 400)
            #expect((corruptObject["error"] as? String)?.contains("gzip") == true)
            let (notGzip, _) = try await post(client, gzipped: Array("plain text".utf8))
            #expect(notGzip == 400)
            let (unknown, _) = try await post(client, gzipped: body, encoding: "br")
            #expect(unknown == 415)
        }
    }

    @Test func cardinalityIsBounded() async throws {
        try await withGateway(series: SeriesLimits(maxNewSeriesPerBatch: 3, maxSeries: 5)) { gateway, client in
            func body(_ range: Range<Int>) -> String {
                #"{"samples":["# + range.map { #"{"metric":"card","labels":{"i":"\#($0)"},"value":1}"# }.joined(separator: ",") + "]}"
            }
            let (tooMany, object) = try await post(client, body(0..<4))
            #expect(tooMany == 400)
            #expect((object["error"] as? String)?.contains("4 new series") == true)
            #expect(try await post(client, body(0..<3)).0 == 200)
            #expect(try await post(client, body(0..<3)).0 == 200, "known series are always accepted")
            let (full, fullObject) = try await post(client, body(3..<6))
            #expect(full == 400)
            #expect((fullObject["error"] as? String)?.contains("series limit (5)") == true)
            #expect(try await post(client, body(3..<5)).0 == 200, "up to the limit")
            #expect(gateway.store.seriesCount == 5)
        }
    }

    @Test func wrongContentTypeIs415() async throws {
        try await withGateway { _, client in
            let (status, object) = try await post(client, #"{"samples":[]}"#, contentType: "application/x-www-form-urlencoded")
            #expect(status == 415)
            #expect((object["error"] as? String)?.contains("application/json") == true)
        }
    }

    @Test func boundsAreEnforced() async throws {
        try await withGateway(ingest: IngestLimits(maxBodyBytes: 1_000, maxSamplesPerRequest: 3)) { gateway, client in
            let big = #"{"samples":[{"metric":"m","labels":{"a":""# + String(repeating: "x", count: 2_000) + #""},"value":1}]}"#
            let (tooLarge, object) = try await post(client, big)
            #expect(tooLarge == 413)
            #expect((object["error"] as? String)?.contains("1000 bytes") == true)
            let four = #"{"samples":["# + Array(repeating: #"{"metric":"m","value":1}"#, count: 4).joined(separator: ",") + "]}"
            let (tooMany, manyObject) = try await post(client, four)
            #expect(tooMany == 400)
            #expect((manyObject["error"] as? String)?.contains("at most 3") == true)
            #expect(try await gateway.store.catalog().isEmpty)
        }
    }

    /// Every refusal is counted by its reason, and accepted requests and samples
    /// too, in the gateway's own `/metrics`.
    @Test func rejectionsAreCountedByReason() async throws {
        let limits = IngestLimits(maxBodyBytes: 1_000, maxSamplesPerRequest: 5)
        try await withGateway(ingest: limits, series: SeriesLimits(maxNewSeriesPerBatch: 3, maxSeries: 4)) { _, client in
            func samples(_ series: [String]) -> String {
                #"{"samples":["# + series.map { #"{"metric":"counted","labels":{"s":"\#($0)"},"value":1}"# }.joined(separator: ",") + "]}"
            }
            #expect(try await post(client, samples(["a", "b", "c"])).0 == 200)
            #expect(try await post(client, samples(["d", "e", "f", "g"])).0 == 400, "4 new series, 3 allowed")
            #expect(try await post(client, samples(["d", "e"])).0 == 400, "3 stored + 2 new > 4")
            #expect(try await post(client, samples(["a"])).0 == 200)
            #expect(try await post(client, samples(Array(repeating: "a", count: 6))).0 == 400)
            #expect(try await post(client, #"{"samples":[{"metric":"1bad","value":1}]}"#).0 == 400)
            #expect(try await post(client, #"{"samples":[{"metric":"pulsegate_fake","value":1}]}"#).0 == 400)
            #expect(try await post(client, "{").0 == 400)
            #expect(try await post(client, "<samples/>", contentType: "application/xml").0 == 415)
            #expect(try await post(client, String(repeating: " ", count: 2_000) + "{}").0 == 413)
            #expect(try await post(client, gzipped: [0x1f, 0x8b, 1, 2, 3]).0 == 400)
            #expect(try await post(client, gzipped: Array("{}".utf8), encoding: "br").0 == 415)

            let text = try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
                return String(buffer: response.body)
            }
            var values: [String: String] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                let parts = line.split(separator: " ")
                if parts.count == 2 { values[String(parts[0])] = String(parts[1]) }
            }
            #expect(values["pulsegate_ingest_requests_accepted_total"] == "2")
            #expect(values["pulsegate_ingest_samples_accepted_total"] == "4")
            let expected: [String: String] = [
                "too_many_new_series": "1", "series_limit": "1", "too_many_samples": "1", "invalid_samples": "1", "malformed": "1",
                "unsupported_media_type": "1", "body_too_large": "1", "bad_encoding": "2", "store_unavailable": "0", "reserved_name": "1",
            ]
            for (reason, count) in expected {
                #expect(values[#"pulsegate_ingest_requests_rejected_total{reason="\#(reason)"}"#] == count, "\(reason)")
            }
        }
    }
}
