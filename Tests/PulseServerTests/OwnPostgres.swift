import Foundation
import PulseTestSupport

/// A PostgreSQL server of one test's own (`scripts/postgres-server`), which the
/// test may stop and start again on the same port: an outage on demand.
final class OwnPostgres: Sendable {
    let directory: String
    let url: String

    private init(directory: String, url: String) {
        self.directory = directory
        self.url = url
    }

    static func start() async throws -> OwnPostgres {
        let directory = NSTemporaryDirectory() + "pulsegate-own-postgres-\(UUID().uuidString)"
        try await run("start", directory)
        let url = try String(contentsOfFile: directory + "/url", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return OwnPostgres(directory: directory, url: url)
    }

    /// Stops the server, keeping its data.
    func halt() async throws { try await Self.run("halt", directory) }
    /// Starts it again on the same port.
    func resume() async throws { try await Self.run("resume", directory) }
    /// Stops it and removes everything.
    func stop() async { try? await Self.run("stop", directory) }

    /// Runs the script on a thread of its own (it blocks for seconds).
    private static func run(_ command: String, _ directory: String) async throws {
        let script = DocumentedDefaultsTests.root.appendingPathComponent("scripts/postgres-server").path
        try await RawWebSocket.offThePool { try ScriptRunner.run(script, [command, directory]) }
    }
}
