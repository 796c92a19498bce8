import Foundation
import PulseCore
import Testing

@testable import PulseServer

/// What the README and the OpenAPI document say about configuration and bounds
/// is what the code does: each is read from its file and compared with the
/// executable's own flags (`pulsegate --experimental-dump-help`) and with the
/// configuration types, so that neither can drift from the code.
@Suite struct DocumentedDefaultsTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One flag as the executable declares it.
    struct Flag: Equatable, CustomStringConvertible {
        var name: String
        var environment: String
        var defaultValue: String
        var description: String { "\(name) \(environment) \(defaultValue)" }
    }

    /// The flags from the binary: name, the variable its help names, and its default
    /// (ArgumentParser's, or the one the help states for a duration).
    static func binaryFlags() throws -> [Flag] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try ExecutableTests.binary)
        process.arguments = ["--experimental-dump-help"]
        process.environment = [:]  // no PULSEGATE_* may change a default
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let dump = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let arguments = try #require((dump["command"] as? [String: Any])?["arguments"] as? [[String: Any]])
        return try arguments.compactMap { argument -> Flag? in
            guard let name = (argument["names"] as? [[String: Any]])?.first(where: { $0["kind"] as? String == "long" })?["name"] as? String,
                  !["help", "version"].contains(name)
            else { return nil }
            let abstract = argument["abstract"] as? String ?? ""
            let environment = try #require(abstract.firstMatch(of: /env (PULSEGATE_[A-Z_]+)/)?.1, "--\(name) names no variable: \(abstract)")
            let stated = abstract.firstMatch(of: /\(default: ([^)]+)\)/).map { String($0.1) }
            let kind = argument["kind"] as? String
            let defaultValue = argument["defaultValue"] as? String ?? stated ?? (kind == "flag" ? "off" : "none")
            return Flag(name: "--" + name, environment: String(environment), defaultValue: defaultValue)
        }
    }

    /// The rows of the README's configuration table.
    static func readmeFlags() throws -> [Flag] {
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let section = try #require(readme.components(separatedBy: "\n## Configuration").dropFirst().first?.components(separatedBy: "\n## ").first)
        return section.split(separator: "\n").compactMap { line -> Flag? in
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 5, cells[1].hasPrefix("`--") else { return nil }
            func code(_ cell: String) -> String? { cell.firstMatch(of: /`([^`]+)`/).map { String($0.1) } }
            let environment = (code(cells[2]) ?? cells[2]).replacingOccurrences(of: "=1", with: "")
            return Flag(name: code(cells[1]) ?? cells[1], environment: environment, defaultValue: code(cells[3]) ?? cells[3])
        }
    }

    /// Equal as written, or as durations, or as numbers (`10` and `10.0`).
    static func same(_ left: String, _ right: String) -> Bool {
        if left == right { return true }
        if let a = DurationText.milliseconds(left), let b = DurationText.milliseconds(right) { return a == b }
        if let a = Double(left), let b = Double(right) { return a == b }
        return false
    }

    @Test func theReadmeTableIsTheExecutablesFlags() throws {
        let binary = try Self.binaryFlags()
        let readme = try Self.readmeFlags()
        #expect(binary.count > 30, "read the flags: \(binary)")
        #expect(readme.map(\.name) == binary.map(\.name), "the README lists the flags in the order of --help, every one of them")
        for flag in binary {
            guard let row = readme.first(where: { $0.name == flag.name }) else { continue }
            #expect(row.environment == flag.environment, "\(flag.name): README says \(row.environment), the flag reads \(flag.environment)")
            #expect(Self.same(row.defaultValue, flag.defaultValue), "\(flag.name): README says \(row.defaultValue), the default is \(flag.defaultValue)")
        }
    }

    /// The flags' defaults are the configuration types': nothing restates them.
    @Test func theFlagsDefaultsAreTheConfigurations() throws {
        let flags = Dictionary(uniqueKeysWithValues: try Self.binaryFlags().map { ($0.name, $0.defaultValue) })
        let defaults = AppConfiguration()
        let expected: [String: String] = [
            "--host": defaults.host, "--port": "\(defaults.port)", "--db": defaults.store.path,
            "--retention": "\(defaults.store.retention.milliseconds)", "--rollup-retention": "\(defaults.store.rollupRetention.milliseconds)",
            "--batch-size": "\(defaults.store.batchSize)", "--batch-age": "\(defaults.store.batchAge.milliseconds)",
            "--max-body-bytes": "\(defaults.ingest.maxBodyBytes)", "--max-samples-per-request": "\(defaults.ingest.maxSamplesPerRequest)",
            "--max-new-series-per-request": "\(defaults.series.maxNewSeriesPerBatch)", "--max-series": "\(defaults.series.maxSeries)",
            "--max-labels-per-sample": "\(defaults.sampleLimits.maxLabels)", "--max-label-value-bytes": "\(defaults.sampleLimits.maxLabelValueLength)",
            "--max-live-message-bytes": "\(defaults.maxLiveMessageBytes)", "--max-query-points": "\(defaults.query.maxPoints)",
            "--max-query-series": "\(defaults.query.maxSeries)", "--max-query-range": "\(defaults.query.maxRange)",
            "--max-connections": "\(defaults.live.maxConnections)", "--outbox-bytes": "\(defaults.live.outboxBytes)",
            "--slow-client-timeout": "\(defaults.live.slowClientTimeout.milliseconds)", "--ring-samples": "\(defaults.live.ringSamples)",
            "--live-flush-interval": "\(defaults.live.flushInterval.milliseconds)",
            "--ping-interval": "\(defaults.pingInterval.milliseconds)", "--synthetic-series": "\(defaults.syntheticSeries)",
            "--synthetic-rate": "\(defaults.syntheticRate)", "--public-dir": defaults.publicDirectory,
            "--exposition-staleness": "\(defaults.expositionStaleness.milliseconds)", "--shutdown-timeout": "\(defaults.shutdownTimeout.milliseconds)",
            "--collect-interval": "\((defaults.collectInterval ?? .zero).milliseconds)",
        ]
        for (name, value) in expected {
            let flag = try #require(flags[name], "no flag \(name)")
            #expect(Self.same(flag, value), "\(name): the flag's default is \(flag), the configuration's \(value)")
        }
    }

    /// The OpenAPI document's bounds and enums are the code's.
    @Test func theOpenAPIDocumentsLimitsAreTheCodes() throws {
        let document = try #require(try JSONSerialization.jsonObject(with: Data(OpenAPIDocument.bytes)) as? [String: Any])
        func at(_ path: String) -> Any? {
            path.split(separator: "/").reduce(document as Any?) { node, key in
                if let array = node as? [Any], let index = Int(key) { return index < array.count ? array[index] : nil }
                return (node as? [String: Any])?[String(key)]
            }
        }
        // `/history` holds a slash, which `at` splits on.
        let historyParameters = (((at("paths") as? [String: Any])?["/history"] as? [String: Any])?["get"] as? [String: Any])?["parameters"] as? [[String: Any]]
        func parameter(_ name: String) -> [String: Any]? {
            historyParameters?.first { $0["name"] as? String == name }?["schema"] as? [String: Any]
        }
        let sampleLimits = SampleLimits.default
        let query = QueryLimits()
        #expect(parameter("points")?["maximum"] as? Int == QueryLimits.maxPointsPerSeries)
        #expect(parameter("agg")?["enum"] as? [String] == Aggregation.allCases.map(\.rawValue))
        #expect(at("components/schemas/MetricName/maxLength") as? Int == sampleLimits.maxMetricNameLength)
        #expect(at("components/schemas/LabelName/maxLength") as? Int == sampleLimits.maxLabelNameLength)
        #expect(at("components/schemas/LabelMatchers/maxProperties") as? Int == sampleLimits.maxLabels)
        #expect(at("components/schemas/LabelMatchers/propertyNames/maxLength") as? Int == sampleLimits.maxLabelNameLength + 1, "a name and its !")
        #expect(Set(at("components/schemas/LabelMatchers/propertyNames/not/enum") as? [String] ?? []) == HistoryRequest.reserved)
        #expect(at("components/schemas/History/properties/series/items/properties/points/maxItems") as? Int == query.maxPoints)
        #expect((at("components/schemas/History/properties/agg/enum") as? [Any])?.map { $0 as? String } == Aggregation.allCases.map(\.rawValue) + [nil])
        #expect(at("components/schemas/Sample/properties/labels/maxProperties") as? Int == sampleLimits.maxLabels)
        #expect(at("components/schemas/Sample/properties/labels/additionalProperties/maxLength") as? Int == sampleLimits.maxLabelValueLength)
        #expect((at("components/schemas/Sample/properties/ts/maximum") as? NSNumber)?.int64Value == Timestamp.latest)
        #expect((at("components/schemas/Sample/properties/ts/minimum") as? NSNumber)?.int64Value == Timestamp.earliest)
        #expect(at("components/schemas/IngestRequest/properties/samples/maxItems") as? Int == IngestLimits().maxSamplesPerRequest)
        #expect(at("components/schemas/IngestRefusal/properties/problems/maxItems") as? Int == IngestError.maxProblems)
    }
}
