import Foundation
import HummingbirdTesting
import NIOCore
import PulseCore
@testable import PulseServer
import Testing

/// `GET /metrics` through a real server: the gateway's own instrumentation and
/// the latest value of every live series.
@Suite struct MetricsTests {
    /// The exposition as text, and its samples by series (`name{labels}` → value).
    struct Scrape {
        let text: String
        let values: [String: Double]

        init(_ text: String) {
            self.text = text
            var values: [String: Double] = [:]
            for line in text.split(separator: "\n") where !line.hasPrefix("#") {
                guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
                values[String(line[..<space])] = value
            }
            self.values = values
        }

        subscript(_ series: String) -> Double? { values[series] }

        /// The `# TYPE` of a family, if it has one.
        func type(of family: String) -> String? {
            text.split(separator: "\n").first { $0.hasPrefix("# TYPE \(family) ") }.map { String($0.split(separator: " ")[3]) }
        }

        func hasHelp(_ family: String) -> Bool {
            text.split(separator: "\n").contains { $0.hasPrefix("# HELP \(family) ") && $0.count > "# HELP \(family) ".count }
        }
    }

    /// `/metrics` as the client gets it, parsed.
    static func scrape(_ client: any TestClientProtocol) async throws -> Scrape {
        try await client.execute(uri: "/metrics", method: .get) { Scrape(String(buffer: $0.body)) }
    }

    func scrape(_ client: any TestClientProtocol) async throws -> Scrape {
        try await client.execute(uri: "/metrics", method: .get) { response in
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "text/plain; version=0.0.4; charset=utf-8")
            return Scrape(String(buffer: response.body))
        }
    }

    func push(_ client: any TestClientProtocol, _ json: String) async throws -> Int {
        try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: json)) {
            Int($0.status.code)
        }
    }

    @Test func everyOwnFamilyHasHelpAndTheRightType() async throws {
        try await withTestGateway { gateway, client in
            _ = try await push(client, #"{"samples":[{"metric":"warm_up","value":1}]}"#)  // a commit, for the store's histograms
            let scrape = try await scrape(client)
            for (family, entry) in MetricsCatalog.families {
                // Families with labels appear once something has them (HTTP, collector errors).
                if ["pulsegate_collector_read_errors_total", "pulsegate_http_requests_total", "pulsegate_http_request_duration_seconds"].contains(family) { continue }
                // The cluster's families: ClusterTests checks them on a cluster node.
                if entry.clusterOnly {
                    #expect(!scrape.hasHelp(family), "\(family) is a cluster node's only")
                    continue
                }
                #expect(scrape.hasHelp(family), "\(family) has no help text")
                let expected = family.hasSuffix("_total") ? "counter" : entry.buckets.isEmpty ? "gauge" : "histogram"
                #expect(scrape.type(of: family) == expected, "\(family)")
            }
            #expect(scrape[#"pulsegate_build_info{version="\#(BuildInfo.version)",swift="\#(BuildInfo.swiftVersion)"}"#] == 1)
        }
    }

    @Test func httpRequestsAreCountedAndTimedByRouteMethodAndStatus() async throws {
        try await withTestGateway { _, client in
            for _ in 0..<3 { try await client.execute(uri: "/healthz", method: .get) { #expect($0.status == .ok) } }
            try await client.execute(uri: "/history?metric=nothing_here", method: .get) { #expect($0.status == .ok) }
            try await client.execute(uri: "/history", method: .get) { #expect($0.status == .badRequest) }
            // Unmatched paths share one label value, whatever they are: a client cannot mint series.
            try await client.execute(uri: "/no/such/\(UUID())", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/no/such/\(UUID())", method: .get) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/healthz", method: .delete) { #expect($0.status == .methodNotAllowed) }
            let scrape = try await scrape(client)
            #expect(scrape[#"pulsegate_http_requests_total{route="/healthz",method="GET",status="200"}"#] == 3)
            #expect(scrape[#"pulsegate_http_requests_total{route="/history",method="GET",status="200"}"#] == 1)
            #expect(scrape[#"pulsegate_http_requests_total{route="/history",method="GET",status="400"}"#] == 1)
            #expect(scrape[#"pulsegate_http_requests_total{route="unmatched",method="GET",status="404"}"#] == 2)
            #expect(scrape[#"pulsegate_http_requests_total{route="unmatched",method="DELETE",status="405"}"#] == 1)
            #expect(scrape[#"pulsegate_http_request_duration_seconds_count{route="/healthz",method="GET"}"#] == 3)
            #expect(scrape[#"pulsegate_http_request_duration_seconds_bucket{route="/healthz",method="GET",le="+Inf"}"#] == 3)
            #expect((scrape[#"pulsegate_http_request_duration_seconds_sum{route="/healthz",method="GET"}"#] ?? -1) > 0)
            #expect(!scrape.text.contains("/no/such"))
        }
    }

    @Test func pipelineStoreAndLiveAreCounted() async throws {
        try await withTestGateway { gateway, client in
            let port = try #require(client.port)
            let live = try await LiveClient.connect(port: port, query: "metric=counted_*")
            try await gateway.pipeline.accept(testBatch(1, metric: "counted_synthetic", series: 3), from: .synthetic, durability: .committed)
            #expect(try await push(client, #"{"samples":[{"metric":"counted_push","value":1},{"metric":"counted_push","labels":{"a":"b"},"value":2}]}"#) == 200)
            #expect(try await push(client, #"{"samples":[{"metric":"counted_push","value":1},{"metric":"bad-name","value":2},{"metric":"also bad","value":3}]}"#) == 400)
            #expect(try await push(client, #"{"samples":[{"metric":"pulsegate_fake","value":1},{"metric":"fine","value":1}]}"#) == 400)
            _ = try await live.frames(3)  // hello and two batches
            let scrape = try await scrape(client)
            #expect(scrape[#"pulsegate_samples_accepted_total{source="synthetic"}"#] == 3)
            #expect(scrape[#"pulsegate_samples_accepted_total{source="ingest"}"#] == 2)
            #expect(scrape[#"pulsegate_samples_accepted_total{source="collector"}"#] == 0)
            #expect(scrape[#"pulsegate_samples_rejected_total{source="ingest",reason="invalid"}"#] == 2)
            #expect(scrape[#"pulsegate_samples_rejected_total{source="ingest",reason="reserved_name"}"#] == 2)
            #expect(scrape["pulsegate_store_rows_written_total"] == 5)
            #expect(scrape["pulsegate_store_batch_samples_sum"] == 5)
            #expect((scrape["pulsegate_store_commit_duration_seconds_count"] ?? 0) >= 2)
            #expect((scrape["pulsegate_store_database_bytes"] ?? 0) > 4096)
            #expect(scrape["pulsegate_ws_clients"] == 1)
            #expect((scrape["pulsegate_ws_frames_sent_total"] ?? 0) >= 2)
            await live.close()
        }
    }

    @Test func processMetricsDescribeThisProcess() async throws {
        try await withTestGateway { _, client in
            let scrape = try await scrape(client)
            let now = Date().timeIntervalSince1970
            let start = try #require(scrape["process_start_time_seconds"])
            #expect(start <= now && start > now - 86_400)
            #expect((scrape["process_resident_memory_bytes"] ?? 0) > 1_000_000)
            #expect((scrape["process_virtual_memory_bytes"] ?? 0) >= (scrape["process_resident_memory_bytes"] ?? 0))
            #expect((scrape["process_open_fds"] ?? 0) > 3)
            #expect((scrape["process_cpu_seconds_total"] ?? 0) > 0)
            // A counter only grows, scrape after scrape.
            let later = try await self.scrape(client)
            #expect((later["process_cpu_seconds_total"] ?? 0) >= (scrape["process_cpu_seconds_total"] ?? 0))
        }
    }

    /// Every live series, with its labels escaped as the text format wants; a
    /// sample older than the one shown does not replace it.
    @Test func latestValuesOfLiveSeries() async throws {
        try await withTestGateway { _, client in
            let ts = Timestamp.now()
            #expect(try await push(client, #"""
                {"samples":[{"metric":"pushed_latest","labels":{"path":"C:\\dir","quote":"say \"hi\"","line":"a\nb"},"ts":\#(ts),"value":1.5},
                            {"metric":"pushed_latest","labels":{"path":"other"},"ts":\#(ts),"value":-2e-7}]}
                """#) == 200)
            #expect(try await push(client, #"{"samples":[{"metric":"pushed_latest","labels":{"path":"other"},"ts":\#(ts - 1000),"value":99}]}"#) == 200)
            let scrape = try await scrape(client)
            #expect(scrape[#"pushed_latest{line="a\nb",path="C:\\dir",quote="say \"hi\""}"#] == 1.5)
            #expect(scrape[#"pushed_latest{path="other"}"#] == -2e-7)
            #expect(scrape.type(of: "pushed_latest") == "untyped" && scrape.hasHelp("pushed_latest"))
            #expect(scrape["pulsegate_exposed_series"] == 2)
        }
    }

    @Test func aSeriesNotUpdatedWithinTheStalenessDropsOut() async throws {
        // Seconds, not milliseconds: a busy CI machine can take a while between a push and a scrape.
        // (The rule itself, to the millisecond: `LatestValuesTests`, on a clock of its own.)
        try await withTestGateway({ $0.expositionStaleness = .seconds(3) }) { _, client in
            #expect(try await push(client, #"{"samples":[{"metric":"going_stale","value":1}]}"#) == 200)
            #expect(try await scrape(client)["going_stale"] == 1)
            try await Task.sleep(for: .milliseconds(3_500))
            #expect(try await push(client, #"{"samples":[{"metric":"still_fresh","value":2}]}"#) == 200)
            let scrape = try await scrape(client)
            #expect(scrape["going_stale"] == nil && !scrape.text.contains("going_stale"))
            #expect(scrape["still_fresh"] == 2)
            #expect(scrape["pulsegate_exposed_series"] == 1)
        }
    }

    /// Pushed names may not pass for the gateway's own.
    @Test(arguments: ["pulsegate_fake", "pulsegate_http_requests_total", "process_cpu_seconds_total", "process_open_fds"])
    func reservedNamesAreRefused(_ name: String) async throws {
        try await withTestGateway { gateway, client in
            let (status, body) = try await client.execute(
                uri: "/ingest", method: .post, headers: [.contentType: "text/plain; version=0.0.4"], body: ByteBuffer(string: "ok_metric 1\n\(name) 2\n")
            ) { (Int($0.status.code), String(buffer: $0.body)) }
            #expect(status == 400)
            #expect(body.contains("\(name) is reserved"), "\(body)")
            #expect(try await gateway.store.catalog().isEmpty)
            // Others of the process_ family are anyone's.
            #expect(try await push(client, #"{"samples":[{"metric":"process_count","value":3}]}"#) == 200)
        }
    }
}
