import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PulseCore
@testable import PulseServer
import PulseStore
import PulseTestSupport
import Testing

/// `POST /api/v1/write` through a real server: snappy-compressed protobuf
/// bodies as Prometheus sends them, the answers its retry logic relies on,
/// and every hostile body refused and counted with nothing stored.
@Suite struct RemoteWriteTests {
    typealias Series = RemoteWriteEncoder.Series
    let base: Int64 = 1_764_470_000_000

    struct Answer {
        let status: Int
        let body: String
        let headers: HTTPFields
    }

    func write(
        _ client: any TestClientProtocol, _ body: [UInt8], compress: Bool = true,
        contentType: String = "application/x-protobuf", encoding: String? = "snappy"
    ) async throws -> Answer {
        var headers: HTTPFields = [.contentType: contentType, HTTPField.Name("X-Prometheus-Remote-Write-Version")!: "0.1.0"]
        if let encoding { headers[.contentEncoding] = encoding }
        return try await client.execute(uri: "/api/v1/write", method: .post, headers: headers, body: ByteBuffer(bytes: compress ? SnappyBlock.compress(body) : body)) {
            Answer(status: Int($0.status.code), body: String(buffer: $0.body), headers: $0.headers)
        }
    }

    func stored(_ gateway: Gateway, _ metric: String) async throws -> [SeriesKey: [Point]] {
        let series = try await gateway.store.range(SeriesSelector(metric: metric), from: 0, to: Timestamp.latest)
        return Dictionary(uniqueKeysWithValues: series.map { ($0.key, $0.points) })
    }

    @Test func samplesAreCommittedBeforeThe204AndQueryable() async throws {
        try await withTestGateway { gateway, client in
            let request = RemoteWriteEncoder.writeRequest([
                Series([("__name__", "http_requests_total"), ("job", "api"), ("instance", "a:80")], samples: [(base, 10), (base + 15_000, 12.5)]),
                Series([("__name__", "http_requests_total"), ("job", "api"), ("instance", "b:80")], samples: [(base, 3)]),
                Series([("__name__", "temperature"), ("room", "'; DROP TABLE samples; -- ü")], samples: [(base, -0.5)]),
            ])
            let answer = try await write(client, request)
            #expect(answer.status == 204, "\(answer.body)")
            #expect(answer.body.isEmpty)
            // Durable on return: the store's own reader sees every sample at once.
            #expect(try await stored(gateway, "http_requests_total") == [
                SeriesKey(metric: "http_requests_total", labels: ["job": "api", "instance": "a:80"]): [Point(base, 10), Point(base + 15_000, 12.5)],
                SeriesKey(metric: "http_requests_total", labels: ["job": "api", "instance": "b:80"]): [Point(base, 3)],
            ])
            #expect(try await stored(gateway, "temperature") == [SeriesKey(metric: "temperature", labels: ["room": "'; DROP TABLE samples; -- ü"]): [Point(base, -0.5)]])
            let history = try await client.execute(uri: "/history?metric=http_requests_total&instance=a:80&from=\(base)&to=\(base + 15_000)", method: .get) { String(buffer: $0.body) }
            #expect(history.contains("[\(base),10.0]") && history.contains("[\(base + 15_000),12.5]"), "\(history)")
            let scrape = try await MetricsTests.scrape(client)
            #expect(scrape["pulsegate_remote_write_requests_accepted_total"] == 1)
            #expect(scrape["pulsegate_remote_write_samples_accepted_total"] == 4)
            #expect(scrape[#"pulsegate_samples_accepted_total{source="remote_write"}"#] == 4)
        }
    }

    @Test func samplesAreBroadcastLive() async throws {
        try await withTestGateway { _, client in
            let live = try await LiveClient.connect(port: try #require(client.port), query: "metric=rw_live")
            #expect(try await write(client, RemoteWriteEncoder.writeRequest([Series([("__name__", "rw_live"), ("job", "j")], samples: [(base, 7)])])).status == 204)
            let frames = try await live.frames(2)
            let sample = try #require((frames[1]["samples"] as? [[String: Any]])?.first)
            #expect(sample["metric"] as? String == "rw_live")
            #expect(sample["ts"] as? Int64 == base)
            #expect(sample["value"] as? Double == 7)
            await live.close()
        }
    }

    /// Metadata types the family in `/metrics`; a staleness marker ends the series
    /// there (its history stays); other non-finite values are skipped and counted,
    /// and the rest of their request is stored.
    @Test func metadataStalenessAndNonFiniteValues() async throws {
        try await withTestGateway { gateway, client in
            let now = Timestamp.now()
            let stale = Double(bitPattern: RemoteWriteRequest.staleMarkerBits)
            #expect(try await write(client, RemoteWriteEncoder.writeRequest([], metadata: [
                .init(type: 1, family: "jobs_done_total", help: "Jobs done."),
                .init(type: 5, family: "rpc_seconds", help: "RPC latency."),
            ])).status == 204, "a request of metadata alone")
            let first = try await write(client, RemoteWriteEncoder.writeRequest([
                Series([("__name__", "jobs_done_total"), ("job", "a")], samples: [(now, 5)]),
                Series([("__name__", "jobs_done_total"), ("job", "b")], samples: [(now, 9)]),
                Series([("__name__", "rpc_seconds"), ("quantile", "0.99")], samples: [(now, .nan)]),
                Series([("__name__", "rpc_seconds_sum")], samples: [(now, 0)]),
                Series([("__name__", "rpc_seconds_count")], samples: [(now, 0)]),
                Series([("__name__", "ratio")], samples: [(now, .infinity), (now + 1, -.infinity), (now + 2, 0.5)]),
                Series([("__name__", "native")], samples: [], histograms: 3),
            ]))
            #expect(first.status == 204, "\(first.body)")
            var scrape = try await MetricsTests.scrape(client)
            #expect(scrape.type(of: "jobs_done_total") == "counter")
            #expect(scrape.text.contains("# HELP jobs_done_total Jobs done.\n"))
            #expect(scrape.type(of: "rpc_seconds") == "summary")
            #expect(scrape.type(of: "rpc_seconds_sum") == nil, "a summary's _sum is written under its family")
            #expect(scrape[#"jobs_done_total{job="a"}"#] == 5 && scrape[#"jobs_done_total{job="b"}"#] == 9)
            #expect(scrape["ratio"] == 0.5)
            #expect(scrape[#"rpc_seconds{quantile="0.99"}"#] == nil, "NaN is not stored")
            #expect(scrape[#"pulsegate_remote_write_samples_skipped_total{reason="nan"}"#] == 1)
            #expect(scrape[#"pulsegate_remote_write_samples_skipped_total{reason="inf"}"#] == 2)
            #expect(scrape[#"pulsegate_remote_write_samples_skipped_total{reason="native_histogram"}"#] == 3)
            #expect(scrape["pulsegate_remote_write_samples_accepted_total"] == 5)
            #expect(try await stored(gateway, "ratio").values.first == [Point(now + 2, 0.5)])
            #expect(try await stored(gateway, "native").isEmpty)
            #expect(try await stored(gateway, "rpc_seconds").isEmpty)

            // Job a's target is gone: Prometheus sends a staleness marker.
            #expect(try await write(client, RemoteWriteEncoder.writeRequest([
                Series([("__name__", "jobs_done_total"), ("job", "a")], samples: [(now + 15_000, stale)]),
            ])).status == 204)
            scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"jobs_done_total{job="a"}"#] == nil, "ended")
            #expect(scrape[#"jobs_done_total{job="b"}"#] == 9)
            #expect(try await stored(gateway, "jobs_done_total")[SeriesKey(metric: "jobs_done_total", labels: ["job": "a"])] == [Point(now, 5)], "its history stays")
        }
    }

    /// A Prometheus scraping any Go or Python target sends `process_*` series, and one
    /// scraping Pulsegate sends `pulsegate_*`: the gateway's own names are skipped and
    /// counted, and the rest of the request is stored (a 4xx would drop it all).
    @Test func seriesWithTheGatewaysOwnNamesAreSkippedAndTheRestStored() async throws {
        try await withTestGateway { gateway, client in
            let answer = try await write(client, RemoteWriteEncoder.writeRequest([
                Series([("__name__", "process_cpu_seconds_total"), ("job", "app")], samples: [(base, 1.5), (base + 1, 1.6)]),
                Series([("__name__", "pulsegate_http_requests_total"), ("job", "pulsegate")], samples: [(base, 3)]),
                Series([("__name__", "app_jobs_total"), ("job", "app")], samples: [(base, 8)]),
            ]))
            #expect(answer.status == 204, "\(answer.body)")
            #expect(try await gateway.store.catalog().map(\.key.metric) == ["app_jobs_total"])
            let scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"pulsegate_remote_write_samples_skipped_total{reason="reserved_name"}"#] == 3)
            #expect(scrape["pulsegate_remote_write_samples_accepted_total"] == 1)
            #expect(scrape[#"process_cpu_seconds_total{job="app"}"#] == nil)
            #expect(scrape[#"pulsegate_remote_write_requests_rejected_total{reason="reserved_name"}"#] == 0)
        }
    }

    /// Every body that can never succeed is a 4xx with its reason, counted; nothing of it is stored.
    @Test func hostileBodiesAreRefusedWithTheirReasonAndCounted() async throws {
        try await withTestGateway({ $0.ingest = IngestLimits(maxBodyBytes: 4_096, maxSamplesPerRequest: 50) }) { gateway, client in
            let valid = RemoteWriteEncoder.writeRequest([Series([("__name__", "hostile"), ("job", "j")], samples: [(base, 1)])])
            let compressed = SnappyBlock.compress(valid)
            var cases: [(String, Answer, Int, String)] = []
            func check(_ what: String, _ answer: Answer, _ status: Int, _ reason: String) { cases.append((what, answer, status, reason)) }

            check("corrupt snappy", try await write(client, [compressed[0]] + [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], compress: false), 400, "snappy")
            check("truncated snappy", try await write(client, Array(compressed.dropLast(3)), compress: false), 400, "snappy")
            check("a header claiming 4 GB", try await write(client, RemoteWriteEncoder.varint(4_000_000_000) + [0x00, 0x01], compress: false), 413, "more than 4096 bytes")
            check("a snappy bomb", try await write(client, [UInt8](repeating: 0, count: 50_000)), 413, "more than 4096 bytes")
            check("protobuf cut short", try await write(client, Array(valid.dropLast(2))), 400, "not a remote_write WriteRequest")
            check("varint overflow", try await write(client, [UInt8](repeating: 0xff, count: 12)), 400, "varint")
            check("a wrong wire type", try await write(client, RemoteWriteEncoder.field(1, varint: 1)), 400, "wire type")
            check("duplicate labels", try await write(client, RemoteWriteEncoder.writeRequest([Series([("__name__", "m"), ("a", "1"), ("a", "2")], samples: [(base, 1)])])), 400, "appears more than once")
            check("no __name__", try await write(client, RemoteWriteEncoder.writeRequest([Series([("job", "j")], samples: [(base, 1)])])), 400, "no __name__")
            check("too many labels", try await write(client, RemoteWriteEncoder.writeRequest([Series([("__name__", "m")] + (0..<40).map { ("l\($0)", "v") }, samples: [(base, 1)])])), 400, "at most 32")
            check("too many samples", try await write(client, RemoteWriteEncoder.writeRequest([Series([("__name__", "m")], samples: (0..<51).map { (base + Int64($0), 1) })])), 400, "more than 50 samples")
            check("JSON to the protobuf endpoint", try await write(client, Array(#"{"samples":[]}"#.utf8), compress: false, contentType: "application/json", encoding: nil), 415, "application/x-protobuf")
            check("a remote_write 2.0 message", try await write(client, valid, contentType: "application/x-protobuf;proto=io.prometheus.write.v2.Request"), 415, "remote_write 1.0")
            check("an unknown encoding", try await write(client, valid, compress: false, encoding: "zstd"), 415, "snappy")
            check("a body over the bound", try await write(client, [UInt8](repeating: 7, count: 5_000), compress: false), 413, "4096 bytes")

            for (what, answer, status, reason) in cases {
                #expect(answer.status == status, "\(what): \(answer.status) \(answer.body)")
                #expect(answer.body.contains(reason), "\(what): \(answer.body)")
                let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                #expect(object?["error"] is String, "\(what): an error is JSON")
            }
            #expect(try await gateway.store.catalog().isEmpty, "nothing of any of them was stored")
            let scrape = try await MetricsTests.scrape(client)
            let expected: [String: Double] = [
                "bad_encoding": 3, "body_too_large": 3, "malformed": 3, "invalid_samples": 3, "too_many_samples": 1,
                "reserved_name": 0, "unsupported_media_type": 2, "store_unavailable": 0,
            ]
            for (reason, count) in expected {
                #expect(scrape[#"pulsegate_remote_write_requests_rejected_total{reason="\#(reason)"}"#] == count, "\(reason)")
            }
            #expect(scrape["pulsegate_remote_write_requests_accepted_total"] == 0)
            #expect(scrape[#"pulsegate_ingest_requests_rejected_total{reason="malformed"}"#] == 0, "counted as remote_write's, not /ingest's")
            // And the endpoint still takes a good request, also naming its 1.0 message.
            #expect(try await write(client, valid).status == 204)
            #expect(try await write(client, valid, contentType: "application/x-protobuf; proto=prometheus.WriteRequest").status == 204)
        }
    }
}
