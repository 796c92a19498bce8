import Foundation
@testable import PulseCluster
import PulseTestSupport
import Testing

/// `--postgres-url`: what is read from it, and errors that name the problem
/// without ever showing the password.
@Suite struct PostgresSettingsTests {
    @Test func readsEveryPart() throws {
        let settings = try PostgresSettings(url: "postgres://gate:s3cret@db.example:6543/metrics?sslmode=require")
        #expect(settings.host == "db.example")
        #expect(settings.port == 6543)
        #expect(settings.username == "gate")
        #expect(settings.password == "s3cret")
        #expect(settings.database == "metrics")
        #expect(settings.tls == .require)
        #expect(settings.description == "postgres://gate:***@db.example:6543/metrics?sslmode=require")
    }

    @Test func defaultsPortAndTLSAndTakesThePasswordFromElsewhere() throws {
        let settings = try PostgresSettings(url: "postgresql://gate@localhost/metrics")
        #expect(settings.port == 5432)
        #expect(settings.tls == .prefer)
        #expect(settings.password == nil)
        #expect(settings.description == "postgres://gate@localhost:5432/metrics")
    }

    @Test(arguments: [
        ("mysql://gate:pw-7f3a@h/db", "must start with postgres://"),
        ("postgres://gate:pw-7f3a@/db", "names no host"),
        ("postgres://:pw-7f3a@h/db", "names no user"),
        ("postgres://gate:pw-7f3a@h", "names no database"),
        ("postgres://gate:pw-7f3a@h/", "names no database"),
        ("postgres://gate:pw-7f3a@h:70000/db", "outside 1...65535"),
        ("postgres://gate:pw-7f3a@h/db?sslmode=sometimes", "sslmode must be one of"),
        ("postgres://gate:pw-7f3a@h/db?target_session_attrs=any", "unknown parameter target_session_attrs"),
        ("not a url at all pw-7f3a", "is not a URL"),
    ])
    func refusesWhatItCannotUseWithoutShowingThePassword(url: String, expected: String) {
        do {
            _ = try PostgresSettings(url: url)
            Issue.record("\(url) was accepted")
        } catch {
            let message = "\(error)"
            #expect(message.contains(expected), "\(message)")
            #expect(!message.contains("pw-7f3a") || url.hasPrefix("not a url"), "the password leaked: \(message)")
        }
    }

    @Test func redactsAPasswordInAURLThatDoesNotParse() {
        #expect(PostgresSettings.redact("postgres://gate:pw@x@h:1/db") == "postgres://gate:***@h:1/db")
        #expect(PostgresSettings.redact("postgres://gate@h/db") == "postgres://gate@h/db")
    }
}

/// The PostgreSQL tests are skipped without a server; under CI, the test
/// command starts one, so a missing one is a broken test command, not a skip.
@Suite struct TestServerPresence {
    @Test func ciRunsThePostgresTests() {
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(TestPostgres.isAvailable, "CI is set but PULSEGATE_TEST_POSTGRES_URL is not: scripts/test starts the server")
        }
    }
}
