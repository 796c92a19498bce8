import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import PulseCore
@testable import PulseServer
import PulseTestSupport
import Testing

/// The Pushgateway API through a real server: pushes stored, broadcast and
/// exposed as Pushgateway exposes them, groups replaced, deleted, stamped on
/// failure and expired, and hostile paths and bodies refused and counted.
/// (`scripts/pushgateway_check.py` runs the same pushes from Python's
/// prometheus-client against Debian's Pushgateway and compares the two.)
@Suite struct PushgatewayTests {
    struct Answer {
        let status: Int
        let body: String
    }

    func send(
        _ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ body: String = "",
        headers: HTTPFields = [.contentType: "text/plain; version=0.0.4; charset=utf-8"]
    ) async throws -> Answer {
        try await send(client, method, path, Array(body.utf8), headers: headers)
    }

    func send(_ client: any TestClientProtocol, _ method: HTTPRequest.Method, _ path: String, _ bytes: [UInt8], headers: HTTPFields) async throws -> Answer {
        try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(bytes: bytes)) {
            Answer(status: Int($0.status.code), body: String(buffer: $0.body))
        }
    }

    func stored(_ gateway: Gateway, _ metric: String) async throws -> [SeriesKey: [Point]] {
        let series = try await gateway.store.range(SeriesSelector(metric: metric), from: 0, to: Timestamp.latest)
        return Dictionary(uniqueKeysWithValues: series.map { ($0.key, $0.points) })
    }

    func groups(_ client: any TestClientProtocol) async throws -> [[String: Any]] {
        try await client.execute(uri: "/api/v1/push-groups", method: .get) { response in
            let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
            return object?["groups"] as? [[String: Any]] ?? []
        }
    }

    /// The push's samples are committed at its time (between asking and the
    /// answer, on the wall clock), and exposed with the group's labels.
    @Test func aPushIsStoredAndExposedWithItsGroupsLabels() async throws {
        try await withTestGateway { gateway, client in
            let body = """
                # HELP backup_rows_total Rows copied.
                # TYPE backup_rows_total counter
                backup_rows_total{table="users"} 1200
                backup_rows_total{table="orders"} 5e6
                # TYPE backup_seconds histogram
                backup_seconds_bucket{le="1.0"} 0
                backup_seconds_bucket{le="60"} 1
                backup_seconds_sum 42.5
                backup_seconds_count 1
                backup_last_success 1764470000.5

                """
            let before = Timestamp.now()
            let answer = try await send(client, .put, "/metrics/job/backup/path@base64/L3Zhci9kYg", body)
            let after = Timestamp.now()
            #expect(answer.status == 200 && answer.body == #"{"accepted":8}"#, "\(answer.body)")

            let rows = try await stored(gateway, "backup_rows_total")
            #expect(Set(rows.keys) == [
                SeriesKey(metric: "backup_rows_total", labels: ["job": "backup", "path": "/var/db", "table": "users"]),
                SeriesKey(metric: "backup_rows_total", labels: ["job": "backup", "path": "/var/db", "table": "orders"]),
            ])
            let users = try #require(rows[SeriesKey(metric: "backup_rows_total", labels: ["job": "backup", "path": "/var/db", "table": "users"])])
            #expect(users.count == 1 && users[0].value == 1200 && (before...after).contains(users[0].timestamp), "\(users) not in \(before)...\(after)")
            let buckets = try await stored(gateway, "backup_seconds_bucket")
            #expect(Set(buckets.keys.compactMap { $0[label: "le"] }) == ["1", "60", "+Inf"], "le as the exposition writes it")
            #expect(buckets.values.flatMap { $0.map(\.value) }.sorted() == [0, 1, 1])

            let scrape = try await MetricsTests.scrape(client)
            let lines = scrape.text.split(separator: "\n").map(String.init)
            let rowsAt = try #require(lines.firstIndex(of: "# HELP backup_rows_total Rows copied."))
            #expect(Array(lines[rowsAt...].prefix(14)) == [
                "# HELP backup_rows_total Rows copied.",
                "# TYPE backup_rows_total counter",
                #"backup_rows_total{instance="",job="backup",path="/var/db",table="orders"} 5e+06"#,
                #"backup_rows_total{instance="",job="backup",path="/var/db",table="users"} 1200"#,
                "# TYPE backup_seconds histogram",
                #"backup_seconds_bucket{instance="",job="backup",path="/var/db",le="1"} 0"#,
                #"backup_seconds_bucket{instance="",job="backup",path="/var/db",le="60"} 1"#,
                #"backup_seconds_bucket{instance="",job="backup",path="/var/db",le="+Inf"} 1"#,
                #"backup_seconds_sum{instance="",job="backup",path="/var/db"} 42.5"#,
                #"backup_seconds_count{instance="",job="backup",path="/var/db"} 1"#,
                "# HELP push_failure_time_seconds Last Unix time when changing this group in the Pushgateway failed.",
                "# TYPE push_failure_time_seconds gauge",
                #"push_failure_time_seconds{instance="",job="backup",path="/var/db"} 0"#,
                "# HELP push_time_seconds Last Unix time when changing this group in the Pushgateway succeeded.",
            ])
            #expect(lines.contains(#"backup_last_success{instance="",job="backup",path="/var/db"} 1.7644700005e+09"#))
            let pushedAt = try #require(scrape[#"push_time_seconds{instance="",job="backup",path="/var/db"}"#])
            #expect((Double(before) / 1000...Double(after) / 1000).contains(pushedAt), "\(pushedAt)")
            #expect(scrape.text.components(separatedBy: "# TYPE backup_rows_total ").count == 2, "one family, one header")
            #expect(scrape["pulsegate_pushgateway_requests_accepted_total"] == 1)
            #expect(scrape["pulsegate_pushgateway_samples_accepted_total"] == 8)
            #expect(scrape[#"pulsegate_samples_accepted_total{source="pushgateway"}"#] == 8)
            #expect(scrape["pulsegate_push_groups"] == 1)

            let listed = try await groups(client)
            #expect(listed.count == 1)
            #expect(listed.first?["labels"] as? [String: String] == ["job": "backup", "path": "/var/db"])
            #expect(listed.first?["families"] as? [String] == ["backup_last_success", "backup_rows_total", "backup_seconds"])
            #expect(listed.first?["last_push_ms"] as? Int64 == Int64(pushedAt * 1000))
            #expect(listed.first?["last_failure_ms"] is NSNull && listed.first?["expires_at_ms"] is NSNull)
        }
    }

    @Test func pushedSamplesAreBroadcastLive() async throws {
        try await withTestGateway { _, client in
            let live = try await LiveClient.connect(port: try #require(client.port), query: "metric=pg_live")
            #expect(try await send(client, .post, "/metrics/job/j/instance/i1", "pg_live 7\n").status == 200)
            let frames = try await live.frames(2)
            let sample = try #require((frames[1]["samples"] as? [[String: Any]])?.first)
            #expect(sample["metric"] as? String == "pg_live")
            #expect(sample["labels"] as? [String: String] == ["job": "j", "instance": "i1"])
            #expect(sample["value"] as? Double == 7)
            await live.close()
        }
    }

    /// PUT replaces the group, POST the pushed families, DELETE the group (202,
    /// as Pushgateway answers, also for a group that is not there); the history stays.
    @Test func putPostAndDelete() async throws {
        try await withTestGateway { gateway, client in
            #expect(try await send(client, .put, "/metrics/job/j", "a 1\nb 2\n").status == 200)
            #expect(try await send(client, .post, "/metrics/job/j", "b 3\nc 4\n").status == 200)
            var scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"a{instance="",job="j"}"#] == 1 && scrape[#"b{instance="",job="j"}"#] == 3 && scrape[#"c{instance="",job="j"}"#] == 4)
            #expect(try await send(client, .put, "/metrics/job/j", "d 5\n").status == 200)
            scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"a{instance="",job="j"}"#] == nil && scrape[#"c{instance="",job="j"}"#] == nil && scrape[#"d{instance="",job="j"}"#] == 5)
            #expect(try await send(client, .delete, "/metrics/job/j").status == 202)
            #expect(try await send(client, .delete, "/metrics/job/never-pushed").status == 202)
            scrape = try await MetricsTests.scrape(client)
            #expect(!scrape.text.contains(#"job="j""#), "the group is gone from /metrics")
            #expect(scrape["pulsegate_push_groups"] == 0)
            #expect(try await stored(gateway, "b").values.flatMap { $0.map(\.value) } == [2, 3], "its history stays")
            #expect(try await groups(client).isEmpty)
        }
    }

    /// A refused push keeps the group's metrics and stamps its failure time;
    /// a family pushed with another type than another group's is refused.
    @Test func aFailedPushStampsItsGroup() async throws {
        try await withTestGateway { gateway, client in
            #expect(try await send(client, .put, "/metrics/job/j", "# TYPE m counter\nm 1\n").status == 200)
            let before = Timestamp.now()
            let stamped = try await send(client, .post, "/metrics/job/j", "m 2 1764470000000\n")
            #expect(stamped.status == 400 && stamped.body.contains("must not have timestamps"), "\(stamped.body)")
            var scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"m{instance="",job="j"}"#] == 1, "what it had stays")
            let failed = try #require(scrape[#"push_failure_time_seconds{instance="",job="j"}"#])
            #expect(failed >= Double(before) / 1000 && failed <= Double(Timestamp.now()) / 1000)

            let conflict = try await send(client, .put, "/metrics/job/other", "# TYPE m gauge\nm 1\n")
            #expect(conflict.status == 400 && conflict.body.contains("m is a gauge here but a counter in group {job=j}"), "\(conflict.body)")
            scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"push_time_seconds{instance="",job="other"}"#] == 0, "made by its failed push, as Pushgateway does")
            #expect(scrape[#"pulsegate_pushgateway_requests_rejected_total{reason="inconsistent_family"}"#] == 1)
            #expect(scrape[#"pulsegate_pushgateway_requests_rejected_total{reason="invalid_samples"}"#] == 1)
            #expect(try await stored(gateway, "m").values.flatMap { $0.map(\.value) } == [1], "nothing of either stored")
        }
    }

    /// Each hostile request is a 4xx with its reason, counted, and stores nothing.
    @Test func hostilePathsAndBodiesAreRefusedAndCounted() async throws {
        try await withTestGateway({ $0.ingest = IngestLimits(maxBodyBytes: 4_096, maxSamplesPerRequest: 50) }) { gateway, client in
            var cases: [(String, Answer, Int, String)] = []
            func check(_ what: String, _ answer: Answer, _ status: Int, _ reason: String) { cases.append((what, answer, status, reason)) }
            let text: HTTPFields = [.contentType: "text/plain"]

            check("a label without a value", try await send(client, .put, "/metrics/job/j/zone", "m 1\n"), 400, "without a value")
            check("not base64url", try await send(client, .put, "/metrics/job/j/path@base64/a+b", "m 1\n"), 400, "not base64url")
            check("base64 of invalid UTF-8", try await send(client, .put, "/metrics/job/j/path@base64/_w", "m 1\n"), 400, "UTF-8")
            check("a bad percent escape", try await send(client, .put, "/metrics/job/j%ZZ", "m 1\n"), 400, "percent-encoded")
            check("percent-encoded invalid UTF-8", try await send(client, .put, "/metrics/job/%C3%28", "m 1\n"), 400, "UTF-8")
            check("a reserved label name", try await send(client, .put, "/metrics/job/j/__name__/x", "m 1\n"), 400, "reserved")
            check("a label twice", try await send(client, .put, "/metrics/job/j/a/1/a/2", "m 1\n"), 400, "more than once")
            check("an empty job", try await send(client, .put, "/metrics/job@base64/=", "m 1\n"), 400, "job name must not be empty")
            check("a bad TTL", try await send(client, .put, "/metrics/job/j", "m 1\n", headers: [.contentType: "text/plain", .groupTTL: "soon"]), 400, "Pulsegate-Group-TTL")
            check("text sent as protobuf", try await send(client, .put, "/metrics/job/j", "m 1\n", headers: [.contentType: Self.protobuf]), 400, "not delimited MetricFamily messages")
            check("an unknown encoding", try await send(client, .put, "/metrics/job/j", "m 1\n", headers: [.contentType: "text/plain", .contentEncoding: "br"]), 415, "not supported")
            check("a body over the bound", try await send(client, .put, "/metrics/job/j", String(repeating: "m 1\n", count: 1_100)), 413, "4096 bytes")
            check("a gzip bomb", try await send(client, .put, "/metrics/job/j", try IngestTests.gzip([UInt8](repeating: 0x20, count: 100_000)), headers: [.contentType: "text/plain", .contentEncoding: "gzip"]), 413, "inflates to more than 4096")
            check("too many samples", try await send(client, .put, "/metrics/job/j", (0..<51).map { "m\($0) 1\n" }.joined()), 400, "more than 50 samples")
            check("invalid UTF-8", try await send(client, .put, "/metrics/job/j", [0x6d, 0x20, 0x31, 0xff, 0x0a], headers: text), 400, "UTF-8")
            check("a timestamp", try await send(client, .put, "/metrics/job/j", "m 1 1764470000000\n"), 400, "timestamps")
            check("a line twice", try await send(client, .put, "/metrics/job/j", "m 1\nm 1\n"), 400, "pushed before")
            check("a malformed line", try await send(client, .put, "/metrics/job/j", "m{a=\"1\" 1\n"), 400, "expected , or }")
            check("a gateway's own name", try await send(client, .put, "/metrics/job/j", "pulsegate_ws_clients 1\n"), 400, "reserved")
            check("too many labels", try await send(client, .put, "/metrics/job/j", "m{" + (0..<40).map { "l\($0)=\"v\"" }.joined(separator: ",") + "} 1\n"), 400, "at most 32")
            check("a newline in a label value", try await send(client, .put, "/metrics/job/j/x@base64/YQpi", "m 1\n"), 200, "")

            for (what, answer, status, reason) in cases {
                #expect(answer.status == status, "\(what): \(answer.status) \(answer.body)")
                if status != 200 {
                    #expect(answer.body.contains(reason), "\(what): \(answer.body)")
                    let object = try? JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [String: Any]
                    #expect(object?["error"] is String, "\(what): an error is JSON")
                }
            }
            let stored = try await gateway.store.catalog().map(\.key)
            #expect(stored == [SeriesKey(metric: "m", labels: ["job": "j", "x": "a\nb"])], "only the valid push was stored")
            let scrape = try await MetricsTests.scrape(client)
            let expected: [String: Double] = [
                "bad_grouping_key": 8, "bad_ttl": 1, "bad_encoding": 1, "unsupported_media_type": 0, "body_too_large": 2, "too_many_samples": 1, "malformed": 2,
                "invalid_samples": 4, "reserved_name": 1, "inconsistent_family": 0, "store_unavailable": 0,
            ]
            for (reason, count) in expected {
                #expect(scrape[#"pulsegate_pushgateway_requests_rejected_total{reason="\#(reason)"}"#] == count, "\(reason)")
            }
            #expect(scrape[#"m{instance="",job="j",x="a\nb"}"#] == 1, "the value escaped in the exposition")
            // A GET of a group is not part of the API: 405, as Pushgateway answers.
            let get = try await client.execute(uri: "/metrics/job/j", method: .get) { $0 }
            #expect(get.status == .methodNotAllowed && get.headers[.allow] == "DELETE, POST, PUT")
        }
    }

    /// Groups are bounded by `--max-series`: a push to one more is refused (its
    /// failure not recorded either), a push to one that exists still goes in.
    @Test func groupsAreBounded() async throws {
        try await withTestGateway({ $0.series = SeriesLimits(maxNewSeriesPerBatch: 100, maxSeries: 2) }) { _, client in
            #expect(try await send(client, .put, "/metrics/job/a").status == 200)
            #expect(try await send(client, .put, "/metrics/job/b").status == 200)
            let refused = try await send(client, .put, "/metrics/job/c", "m 1\n")
            #expect(refused.status == 400 && refused.body.contains("2 push groups already"), "\(refused.body)")
            #expect(try await send(client, .put, "/metrics/job/d", "m 1 5\n").status == 400)
            #expect(try await send(client, .put, "/metrics/job/a").status == 200)
            let scrape = try await MetricsTests.scrape(client)
            #expect(scrape["pulsegate_push_groups"] == 2)
            #expect(scrape[#"pulsegate_pushgateway_requests_rejected_total{reason="series_limit"}"#] == 2)
            #expect(try await send(client, .delete, "/metrics/job/b").status == 202)
            #expect(try await send(client, .put, "/metrics/job/c").status == 200, "room again")
        }
    }

    static let protobuf = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"

    /// client_golang's push: the protobuf delimited format, exposed and stored as the text format would be.
    @Test func aProtobufPushIsReadAsClientGolangSendsIt() async throws {
        try await withTestGateway { gateway, client in
            let body = MetricFamilyEncoder.family("go_job_seconds", help: "Job time.", type: .histogram, [
                .histogram(labels: [("step", "copy")], count: 2, sum: 1.5, buckets: [(0.5, 1), (1, 2)]),
            ]) + MetricFamilyEncoder.family("go_job_done", help: "Done.", type: .gauge, [.gauge(1)])
            let answer = try await send(client, .put, "/metrics/job/go/instance/h1", body, headers: [.contentType: Self.protobuf])
            #expect(answer.status == 200 && answer.body == #"{"accepted":6}"#, "\(answer.body)")
            let lines = try await MetricsTests.scrape(client).text.split(separator: "\n").map(String.init)
            let at = try #require(lines.firstIndex(of: "# HELP go_job_done Done."))
            #expect(Array(lines[at...].prefix(9)) == [
                "# HELP go_job_done Done.", "# TYPE go_job_done gauge", #"go_job_done{instance="h1",job="go"} 1"#,
                "# HELP go_job_seconds Job time.", "# TYPE go_job_seconds histogram",
                #"go_job_seconds_bucket{instance="h1",job="go",step="copy",le="0.5"} 1"#,
                #"go_job_seconds_bucket{instance="h1",job="go",step="copy",le="1"} 2"#,
                #"go_job_seconds_bucket{instance="h1",job="go",step="copy",le="+Inf"} 2"#,
                #"go_job_seconds_sum{instance="h1",job="go",step="copy"} 1.5"#,
            ])
            #expect(try await stored(gateway, "go_job_seconds_bucket").count == 3)
            #expect(try await stored(gateway, "go_job_done").keys.first == SeriesKey(metric: "go_job_done", labels: ["instance": "h1", "job": "go"]))
        }
    }

    /// `--push-group-ttl` and a push's own `Pulsegate-Group-TTL`: an expired group
    /// leaves `/metrics` and the listing, counted; its history stays.
    @Test func groupsExpireAfterTheirTTL() async throws {
        try await withTestGateway({ $0.pushGroupTTL = .milliseconds(600) }) { gateway, client in
            #expect(try await send(client, .put, "/metrics/job/default", "ttl_m 1\n").status == 200)
            #expect(try await send(client, .put, "/metrics/job/forever", "ttl_m 2\n", headers: [.contentType: "text/plain", .groupTTL: "0"]).status == 200)
            #expect(try await send(client, .put, "/metrics/job/hour", "ttl_m 3\n", headers: [.contentType: "text/plain", .groupTTL: "1h"]).status == 200)
            let listed = try await groups(client)
            for group in listed {
                let job = (group["labels"] as? [String: String])?["job"]
                let pushed = try #require(group["last_push_ms"] as? Int64)
                let expected: Int64? = job == "default" ? pushed + 600 : job == "hour" ? pushed + 3_600_000 : nil
                #expect(group["expires_at_ms"] as? Int64 == expected, "\(job ?? "?")")
            }
            #expect(await eventually(timeout: .seconds(10)) {
                (try? await MetricsTests.scrape(client))?[#"ttl_m{instance="",job="default"}"#] == nil
            })
            let scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"ttl_m{instance="",job="forever"}"#] == 2 && scrape[#"ttl_m{instance="",job="hour"}"#] == 3)
            #expect(scrape[#"push_time_seconds{instance="",job="default"}"#] == nil)
            #expect(scrape["pulsegate_push_groups_expired_total"] == 1)
            #expect(scrape["pulsegate_push_groups"] == 2)
            #expect(try await groups(client).compactMap { ($0["labels"] as? [String: String])?["job"] }.sorted() == ["forever", "hour"])
            #expect(try await stored(gateway, "ttl_m").count == 3, "the expired group's history stays")
        }
    }
}
