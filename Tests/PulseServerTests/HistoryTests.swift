import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import PulseCore
@testable import PulseServer
import Testing

/// `/history` and `/api/series` through a real server.
@Suite struct HistoryTests {
    /// Two days ago at midnight UTC: a multiple of every step used here, and in reach of relative times.
    static let base: Int64 = (Timestamp.now() / 86_400_000 - 2) * 86_400_000

    static func rfc3339(_ milliseconds: Int64) -> String {
        Date(timeIntervalSince1970: Double(milliseconds) / 1000).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
    // One sample per second for 10 s: values chosen so every aggregate differs.
    static let values: [Double] = [5, 1, 9, 2, 8, 3, 7, 4, 6, 0]

    /// A gateway holding two `cpu` series (hosts a and b) of ten samples each.
    func withGateway(_ configure: (inout AppConfiguration) -> Void = { _ in }, _ body: @Sendable @escaping (Gateway, any TestClientProtocol) async throws -> Void) async throws {
        try await withTestGateway(configure) { gateway, client in
            let samples = Self.values.enumerated().flatMap { index, value in
                [
                    Sample(metric: "cpu", labels: ["host": "a"], timestamp: Self.base + Int64(index) * 1000, value: value),
                    Sample(metric: "cpu", labels: ["host": "b"], timestamp: Self.base + Int64(index) * 1000, value: value * 10),
                ]
            }
            try await gateway.pipeline.accept(samples, from: .ingest, durability: .committed)
            try await body(gateway, client)
        }
    }

    func get(_ client: any TestClientProtocol, _ uri: String, accept: String? = nil) async throws -> (Int, String) {
        var headers: HTTPFields = [:]
        if let accept { headers[.accept] = accept }
        return try await client.execute(uri: uri, method: .get, headers: headers) { response in
            (Int(response.status.code), String(buffer: response.body))
        }
    }

    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    func points(_ object: [String: Any], host: String) -> [[Double]] {
        let series = (object["series"] as? [[String: Any]]) ?? []
        let match = series.first { ($0["labels"] as? [String: String])?["host"] == host }
        return (match?["points"] as? [[Double]]) ?? []
    }

    @Test func rawPointsAreInclusiveAndAscending() async throws {
        try await withGateway { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base + 2000)&to=\(Self.base + 4000)")
            #expect(status == 200)
            let object = try json(body)
            #expect(object["metric"] as? String == "cpu")
            #expect(object["step"] is NSNull)
            #expect((object["series"] as? [Any])?.count == 1)
            #expect(points(object, host: "a") == [[Double(Self.base + 2000), 9], [Double(Self.base + 3000), 2], [Double(Self.base + 4000), 8]])
            #expect(object["complete_until"] as? Int == Int(Self.base + 4000))
        }
    }

    @Test(arguments: [
        ("avg", [5.0, 13.0 / 3, 17.0 / 3, 0]), ("min", [1, 2, 4, 0]), ("max", [9, 8, 7, 0]),
        ("sum", [15, 13, 17, 0]), ("last", [9, 3, 6, 0]), ("count", [3, 3, 3, 1]),
    ] as [(String, [Double])])
    func downsamplesByHand(_ agg: String, _ expected: [Double]) async throws {
        try await withGateway { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base)&to=\(Self.base + 9999)&step=3s&agg=\(agg)")
            #expect(status == 200, "\(body)")
            let object = try json(body)
            #expect(object["step"] as? Int == 3000)
            #expect(object["agg"] as? String == agg)
            let got = points(object, host: "a")
            #expect(got.map { Int64($0[0]) } == [0, 3000, 6000, 9000].map { Self.base + $0 })
            for (point, want) in zip(got, expected) { #expect(abs(point[1] - want) < 1e-9) }
        }
    }

    /// Whole-minute steps are served from the rollups; a range that cuts the
    /// minute still counts only the samples inside it (raw rows at the edges).
    @Test(arguments: [
        ("sum", 33.0), ("count", 6), ("min", 2), ("max", 9), ("last", 4), ("avg", 5.5),
    ] as [(String, Double)])
    func minuteStepsWithPartialEdges(_ agg: String, _ expected: Double) async throws {
        try await withGateway { _, client in
            // Samples 2 s … 7 s: 9, 2, 8, 3, 7, 4.
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base + 2000)&to=\(Self.base + 7500)&step=1m&agg=\(agg)")
            #expect(status == 200, "\(body)")
            #expect(points(try json(body), host: "a") == [[Double(Self.base), expected]])
            let (_, whole) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base)&to=\(Self.base + 59_999)&step=1m&agg=count")
            #expect(points(try json(whole), host: "a") == [[Double(Self.base), 10]])
        }
    }

    /// `points=N` picks the smallest round step with at most N aligned buckets.
    @Test(arguments: [
        (9_999, 4, 5000, 2), (9_999, 10, 1000, 10), (9_999, 1, 10_000, 1), (10_000, 10, 2000, 6),
        (86_399_999, 1000, 120_000, 720), (86_399_999, 11_000, 10_000, 8640), (86_399_999, 1, 86_400_000, 1),
    ] as [(Int64, Int, Int64, Int)])
    func pointsPicksARoundStepThatFits(_ span: Int64, _ points: Int, _ step: Int64, _ buckets: Int) async throws {
        #expect(FittingStep.step(from: Self.base, to: Self.base + span, points: points) == step)
        try await withGateway { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base)&to=\(Self.base + span)&points=\(points)&agg=count")
            #expect(status == 200, "\(body)")
            let object = try json(body)
            #expect(object["step"] as? Int == Int(step))
            let got = self.points(object, host: "a")
            #expect(got.count <= buckets && got.map { $0[1] }.reduce(0, +) == 10)
        }
    }

    /// Beyond a day the step is a whole number of days: the fewest that fit.
    @Test(arguments: [(31 * 86_400_000, 10), (3 * 86_400_000, 1), (30 * 86_400_000 + 1, 7)] as [(Int64, Int)])
    func pointsBeyondADayAreWholeDays(_ span: Int64, _ points: Int) {
        let day: Int64 = 86_400_000
        let from = Self.base + 1, to = from + span
        func buckets(_ step: Int64) -> Int64 { to / step - from / step + 1 }
        let step = FittingStep.step(from: from, to: to, points: points)
        #expect(step % day == 0 && buckets(step) <= Int64(points))
        #expect(step == day || buckets(step - day) > Int64(points))
    }

    @Test(arguments: ["from=\(base)&to=\(base + 9999)", "from=\(rfc3339(base))&to=\(rfc3339(base + 9999))", "from=-3d&to=now", "from=now-3d"])
    func timeForms(_ range: String) async throws {
        try await withGateway { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&step=1h&agg=count&\(range)")
            #expect(status == 200, "\(body)")
            #expect(points(try json(body), host: "a").map { $0[1] }.reduce(0, +) == 10)
        }
    }

    @Test func labelMatchersSelectSeries() async throws {
        try await withGateway { _, client in
            let all = try json(try await get(client, "/history?metric=cpu&from=\(Self.base)&to=\(Self.base + 9999)").1)
            #expect((all["series"] as? [Any])?.count == 2)
            let notA = try json(try await get(client, "/history?metric=cpu&host!=a&from=\(Self.base)&to=\(Self.base + 9999)").1)
            #expect(((notA["series"] as? [[String: Any]])?.first?["labels"] as? [String: String]) == ["host": "b"])
            let none = try json(try await get(client, "/history?metric=cpu&host=zzz&from=\(Self.base)&to=\(Self.base + 9999)").1)
            #expect((none["series"] as? [Any])?.isEmpty == true)
        }
    }

    /// The query as forms and `URLSearchParams` write it: `%XX` in names too (the
    /// matcher `host!=a` arrives as `host%21=a`), and `+` for a space.
    @Test func queryIsDecodedAsFormsEncodeIt() async throws {
        try await withGateway { gateway, client in
            try await gateway.pipeline.accept([Sample(metric: "spaced", labels: ["v": "a b+c"], timestamp: Self.base, value: 1)], from: .ingest, durability: .committed)
            func labels(_ uri: String) async throws -> [[String: String]] {
                let (status, body) = try await get(client, uri)
                #expect(status == 200, "\(uri): \(body)")
                return (try json(body)["series"] as? [[String: Any]] ?? []).compactMap { $0["labels"] as? [String: String] }
            }
            let range = "from=\(Self.base)&to=\(Self.base + 9999)"
            #expect(try await labels("/history?metric=cpu&host%21=a&\(range)") == [["host": "b"]])
            #expect(try await labels("/history?%6Detric=cpu&%68ost=a&\(range)") == [["host": "a"]])
            #expect(try await labels("/history?metric=spaced&v=a+b%2Bc&\(range)") == [["v": "a b+c"]])
        }
    }

    @Test(arguments: [
        ("/history", "metric is required"),
        ("/history?metric=bad-name", "metric name"),
        ("/history?metric=cpu&from=yesterday", "is not a time"),
        ("/history?metric=cpu&to=-5", "is not a time"),
        ("/history?metric=cpu&from=now&to=-1h", "is after to"),
        ("/history?metric=cpu&from=0&to=now", "at most"),
        ("/history?metric=cpu&from=-1h&step=1ms", "decrease the resolution"),
        ("/history?metric=cpu&step=-5s", "not a positive duration"),
        ("/history?metric=cpu&step=0", "not a positive duration"),
        ("/history?metric=cpu&step=soon", "not a positive duration"),
        ("/history?metric=cpu&step=1m&agg=median", "is not one of"),
        ("/history?metric=cpu&agg=avg", "agg needs a step"),
        ("/history?metric=cpu&points=100&step=1m", "step or points, not both"),
        ("/history?metric=cpu&points=0", "points \"0\" is not a whole number"),
        ("/history?metric=cpu&points=11001", "from 1 to 11000"),
        ("/history?metric=cpu&points=many", "is not a whole number"),
        ("/history?metric=cpu&points=1e3", "is not a whole number"),
        ("/history?metric=cpu&from=-1h&from=-2h", "more than once"),
        ("/history?metric=cpu&__name__=x", "reserved"),
        ("/history?metric=cpu&bad-label=x", "label matcher"),
        ("/api/series?prefix=bad-", "prefix"),
    ])
    func badParametersAreAClear400(_ uri: String, _ message: String) async throws {
        try await withGateway { _, client in
            let (status, body) = try await get(client, uri)
            #expect(status == 400, "\(uri): \(body)")
            let error = try json(body)["error"] as? String ?? ""
            #expect(error.contains(message), "\(uri): \(error)")
        }
    }

    @Test func tooManyRawPointsAsksForAStep() async throws {
        try await withGateway { gateway, client in
            let many = (0..<11_001).map { Sample(metric: "dense", timestamp: Self.base + Int64($0), value: 1) }
            try await gateway.pipeline.accept(many, from: .ingest, durability: .committed)
            let (status, body) = try await get(client, "/history?metric=dense&from=\(Self.base)&to=\(Self.base + 20_000)")
            #expect(status == 400)
            #expect(body.contains("add step="))
            let (ok, _) = try await get(client, "/history?metric=dense&from=\(Self.base)&to=\(Self.base + 20_000)&step=10")
            #expect(ok == 200)
        }
    }

    @Test func tooManySeriesAsksForMatchers() async throws {
        try await withGateway({ $0.query.maxSeries = 1 }) { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&from=\(Self.base)&to=\(Self.base + 9999)")
            #expect(status == 400)
            #expect(body.contains("add label matchers"))
            let (narrowed, _) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base)&to=\(Self.base + 9999)")
            #expect(narrowed == 200)
        }
    }

    @Test func csvOnRequest() async throws {
        try await withGateway { _, client in
            let (status, body) = try await get(client, "/history?metric=cpu&host=a&from=\(Self.base)&to=\(Self.base + 1000)", accept: "text/csv")
            #expect(status == 200)
            #expect(body == "ts,labels,value\n\(Self.base),\"{host=\"\"a\"\"}\",5.0\n\(Self.base + 1000),\"{host=\"\"a\"\"}\",1.0\n")
        }
    }

    /// Stored values are finite, but their sum can pass the largest double; JSON has
    /// no infinity, so such a point's value is null (it was written `inf`, not JSON).
    @Test(arguments: ["10s", "1m"])  // computed in SQL from raw rows; from per-minute rollups
    func aggregatesBeyondTheLargestDoubleAreNull(_ step: String) async throws {
        try await withGateway { gateway, client in
            let huge = [("plus", 1.7e308), ("minus", -1.7e308)].flatMap { sign, value in
                [0, 1000].map { Sample(metric: "huge", labels: ["sign": sign], timestamp: Self.base + Int64($0), value: value) }
            }
            try await gateway.pipeline.accept(huge, from: .ingest, durability: .committed)
            func values(_ agg: String) async throws -> [[Any]] {
                let (status, body) = try await get(client, "/history?metric=huge&from=\(Self.base)&to=\(Self.base + 59_999)&step=\(step)&agg=\(agg)")
                #expect(status == 200, "\(body)")
                let series = try #require(try json(body)["series"] as? [[String: Any]])
                return series.map { ($0["points"] as? [[Any]] ?? []).map { $0[1] } }
            }
            for agg in ["sum", "avg"] {
                let got = try await values(agg)
                #expect(got.count == 2 && got.allSatisfy { $0.count == 1 && $0[0] is NSNull }, "\(agg): \(got)")
            }
            #expect(try await values("max").map { $0.compactMap { $0 as? Double } } == [[-1.7e308], [1.7e308]])
        }
    }

    @Test func hostileLabelValuesComeBackVerbatim() async throws {
        try await withGateway { gateway, client in
            let hostile = "'; DROP TABLE samples; -- \"ünïcødé\" 🚀 \\ & = ?"
            try await gateway.pipeline.accept([Sample(metric: "odd", labels: ["v": hostile], timestamp: Self.base, value: 1)], from: .ingest, durability: .committed)
            let encoded = hostile.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let (status, body) = try await get(client, "/history?metric=odd&v=\(encoded)&from=\(Self.base)&to=\(Self.base)")
            #expect(status == 200, "\(body)")
            let series = try json(body)["series"] as? [[String: Any]]
            #expect((series?.first?["labels"] as? [String: String])?["v"] == hostile)
        }
    }

    @Test func seriesCatalogByPrefix() async throws {
        try await withGateway { gateway, client in
            try await gateway.pipeline.accept([Sample(metric: "cpx", timestamp: Self.base, value: 1), Sample(metric: "mem", timestamp: Self.base, value: 1)], from: .ingest, durability: .committed)
            let object = try json(try await get(client, "/api/series?prefix=cp").1)
            let metrics = try #require(object["metrics"] as? [[String: Any]])
            #expect(metrics.map { $0["metric"] as? String } == ["cpu", "cpx"])
            let cpu = try #require(metrics.first?["series"] as? [[String: Any]])
            #expect(cpu.map { $0["labels"] as? [String: String] } == [["host": "a"], ["host": "b"]])
            #expect(cpu.first?["last_ts"] as? Int == Int(Self.base + 9000))
            let all = try json(try await get(client, "/api/series").1)["metrics"] as? [Any]
            #expect(all?.count == 3)
        }
    }
}
