import Foundation

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

    struct Failed: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs the script on a thread of its own (it blocks for seconds), its output
    /// into a file: the server it starts would hold a pipe open. Spawned and
    /// reaped here rather than through Foundation's `Process`, whose child was
    /// seen left unreaped (a zombie) in this test run, so `isRunning` stayed true.
    private static func run(_ command: String, _ directory: String) async throws {
        let script = DocumentedDefaultsTests.root.appendingPathComponent("scripts/postgres-server").path
        try await RawWebSocket.offThePool {
            let log = NSTemporaryDirectory() + "pulsegate-own-postgres-\(UUID().uuidString).log"
            defer { try? FileManager.default.removeItem(atPath: log) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
            let arguments = [script, command, directory].map { (text: String) -> UnsafeMutablePointer<CChar>? in strdup(text) } + [nil]
            defer { arguments.forEach { free($0) } }
            var pid: pid_t = 0
            let spawned = posix_spawn(&pid, script, &actions, nil, arguments, environ)
            guard spawned == 0 else { throw Failed(description: "cannot run \(script): error \(spawned)") }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1, errno == EINTR {}
            let exited = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
            guard exited == 0 else {
                let printed = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
                throw Failed(description: "postgres-server \(command) exited \(exited): \(printed)")
            }
        }
    }
}
