import PulseCore
import Testing

/// Pushgateway grouping keys read from a push's path, as Pushgateway 1.x reads them.
@Suite struct GroupingKeyTests {
    func labels(_ path: String) throws -> [String: String] {
        let key = try GroupingKey(path: path[...])
        return Dictionary(uniqueKeysWithValues: key.labels.map { ($0.name, $0.value) })
    }

    func error(_ path: String) -> String? {
        do {
            _ = try GroupingKey(path: path[...])
            return nil
        } catch {
            return error.description
        }
    }

    @Test func aJobAndLabelsSortedByName() throws {
        let key = try GroupingKey(path: "job/backup/instance/db-1/zone/eu")
        #expect(key.labels == [Label("instance", "db-1"), Label("job", "backup"), Label("zone", "eu")])
        #expect(key.job == "backup")
        #expect(try labels("job/backup/") == ["job": "backup"], "a trailing slash is ignored")
    }

    /// The examples of Pushgateway's README, and the encodings `prometheus-client` writes.
    @Test func base64ValuesCarrySlashesAndEmptyValues() throws {
        #expect(try labels("job/directory_cleaner/path@base64/L3Zhci90bXA") == ["job": "directory_cleaner", "path": "/var/tmp"])
        #expect(try labels("job/directory_cleaner/path@base64/L3Zhci90bXA=") == ["job": "directory_cleaner", "path": "/var/tmp"], "padding optional")
        #expect(try labels("job@base64/YmFja3VwL2RhaWx5") == ["job": "backup/daily"])
        #expect(try labels("job/j/instance@base64/=") == ["job": "j", "instance": ""], "an empty value")
        #expect(try labels("job/j/name@base64/w7xuaWPDtmRl") == ["job": "j", "name": "ünicöde"])
        #expect(try labels("job/j/v@base64/fn5-Pz8_") == ["job": "j", "v": "~~~???"], "the URL-safe alphabet")
    }

    @Test func segmentsArePercentDecodedAfterTheSplit() throws {
        #expect(try labels("job/a%20b/path/x%2Fy") == ["job": "a b", "path": "x/y"])
        #expect(try labels("job/%C3%BC") == ["job": "ü"])
    }

    @Test(arguments: [
        ("", "/metrics/job/<job>"),
        ("job", "/metrics/job/<job>"),
        ("jobs/x", "/metrics/job/<job>"),
        ("instance/x/job/y", "/metrics/job/<job>"),
        ("job/j/instance", "odd number"),
        ("job/", "/metrics/job/<job>"),
        ("job//x/y", "job name must not be empty"),
        ("job@base64/=", "job name must not be empty"),
        ("job/j/bad-name/v", "must match"),
        ("job/j/__name__/v", "reserved"),
        ("job/j/a/1/a/2", "more than once"),
        ("job/j/job/k", "more than once"),
        ("job/j/v@base64/a+b", "not base64url"),
        ("job/j/v@base64/a", "not base64url"),
        ("job/j/v@base64/_w", "not base64url"),  // 0xFF alone is not UTF-8
        ("job/j/v/%zz", "percent-encoded"),
        ("job/j/v/%C3", "percent-encoded"),
        ("job/j/v/%", "percent-encoded"),
    ] as [(String, String)])
    func malformedKeysAreRefusedWithTheirReason(_ path: String, reason: String) {
        let message = error(path)
        #expect(message?.contains(reason) == true, "\(path): \(message ?? "accepted")")
    }
}
