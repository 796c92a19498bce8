import Foundation
import HummingbirdTesting
import NIOCore
import PulseCore
import PulseLive
@testable import PulseServer
import Testing

/// Every input bound refuses what is beyond it with a clear 4xx (or close
/// code), and counts the refusal at `/metrics`. (Body size, samples per
/// request, new and total series: `IngestTests.rejectionsAreCountedByReason`.)
@Suite struct BoundsTests {
    func scrape(_ client: any TestClientProtocol) async throws -> MetricsTests.Scrape {
        try await MetricsTests.scrape(client)
    }

    func push(_ client: any TestClientProtocol, _ json: String) async throws -> (Int, String) {
        try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json)) {
            (Int($0.status.code), String(buffer: $0.body))
        }
    }

    @Test func labelsPerSampleAndLabelLength() async throws {
        try await withTestGateway({ $0.sampleLimits = SampleLimits(maxLabels: 2, maxLabelValueLength: 8) }) { gateway, client in
            let (tooMany, body) = try await push(client, #"{"samples":[{"metric":"m","labels":{"a":"1","b":"2","c":"3"},"value":1}]}"#)
            #expect(tooMany == 400 && body.contains("has 3 labels, at most 2"), "\(body)")
            let (tooLong, long) = try await push(client, #"{"samples":[{"metric":"m","labels":{"a":"123456789"},"value":1}]}"#)
            #expect(tooLong == 400 && long.contains("9 bytes long, at most 8"), "\(long)")
            #expect(try await push(client, #"{"samples":[{"metric":"m","labels":{"a":"12345678","b":"x"},"value":1}]}"#).0 == 200)
            let scrape = try await scrape(client)
            #expect(scrape[#"pulsegate_ingest_requests_rejected_total{reason="invalid_samples"}"#] == 2)
            #expect(scrape[#"pulsegate_samples_rejected_total{source="ingest",reason="invalid"}"#] == 2)
            #expect(try await gateway.store.catalog().count == 1)
        }
    }

    @Test func queryRangePointsAndSeries() async throws {
        try await withTestGateway({
            $0.query.maxRange = 2 * 3_600_000
            $0.query.maxSeries = 1
            $0.query.maxPoints = 100
        }) { gateway, client in
            try await gateway.pipeline.accept([Sample(metric: "q", labels: ["s": "1"], timestamp: Timestamp.now() - 1000, value: 1),
                                               Sample(metric: "q", labels: ["s": "2"], timestamp: Timestamp.now() - 1000, value: 2)],
                                              from: .ingest, durability: .committed)
            func get(_ uri: String) async throws -> (Int, String) {
                try await client.execute(uri: uri, method: .get) { (Int($0.status.code), String(buffer: $0.body)) }
            }
            let (range, rangeBody) = try await get("/history?metric=q&s=1&from=-3h")
            #expect(range == 400 && rangeBody.contains("at most 2h"), "\(rangeBody)")
            let (points, pointsBody) = try await get("/history?metric=q&s=1&from=-1h&step=10s")
            #expect(points == 400 && pointsBody.contains("maximum resolution of 100 points"), "\(pointsBody)")
            #expect(try await get("/history?metric=q&s=1&from=-1h&step=1m").0 == 200, "60 points fit")
            let (series, seriesBody) = try await get("/history?metric=q")
            #expect(series == 400 && seriesBody.contains("at most 1 may be returned"), "\(seriesBody)")
            #expect(try await get("/history?metric=q&agg=median&step=1m").0 == 400)
            #expect(try await get("/history?metric=q&s=1").0 == 200)
            let scrape = try await scrape(client)
            for reason in ["range_too_long", "too_many_points", "too_many_series", "bad_parameter"] {
                #expect(scrape[#"pulsegate_history_requests_rejected_total{reason="\#(reason)"}"#] == 1, "\(reason)")
            }
        }
    }

    @Test func liveMessageSizeAndConnections() async throws {
        try await withTestGateway({
            $0.maxLiveMessageBytes = 256
            $0.live = LiveConfiguration(maxConnections: 1)
        }) { _, client in
            let port = try #require(client.port)
            let live = try await LiveClient.connect(port: port)
            #expect(try await RawWebSocket.open(port: port).status == 503, "one connection at most")
            try await live.send(#"{"type":"dance"}"#)
            _ = try await live.frames(2)  // hello, then the error frame
            try await live.send(#"{"type":"subscribe","metrics":[""# + String(repeating: "x", count: 1_000) + #""]}"#)
            let close = await live.waitForEnd()
            #expect(close?.closeCode == .messageTooLarge)
            let scrape = try await scrape(client)
            #expect(scrape[#"pulsegate_ws_messages_rejected_total{reason="too_large"}"#] == 1)
            #expect(scrape[#"pulsegate_ws_messages_rejected_total{reason="malformed"}"#] == 1)
            #expect(scrape["pulsegate_ws_connections_refused_total"] == 1)
        }
    }
}
