import Foundation
import PulseTestSupport

/// A throwaway PostgreSQL for a benchmark (`scripts/postgres-server`): loopback,
/// a temporary directory, stopped at the end.
final class BenchPostgres: Sendable {
    let directory: String
    let url: String

    init() throws {
        directory = try Measure.scratchDirectory() + "/postgres"
        try Self.run("start", directory)
        url = try String(contentsOfFile: directory + "/url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func stop() {
        try? Self.run("stop", directory)
    }

    private static func run(_ command: String, _ directory: String) throws {
        try ScriptRunner.run("scripts/postgres-server", [command, directory])
    }
}
