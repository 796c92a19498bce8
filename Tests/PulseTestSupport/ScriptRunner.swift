import Foundation

/// Runs a script of the repository's and waits for it, its output into a file
/// (a server it starts would hold a pipe open), spawned and reaped here rather
/// than through Foundation's `Process`: a child of a `Process` started from a
/// test or a benchmark was seen left unreaped (a zombie), so that
/// `waitUntilExit()` and `isRunning` never saw it end. Blocks: call it off the
/// cooperative pool.
public enum ScriptRunner {
    public struct Failed: Error, CustomStringConvertible {
        public let description: String
    }

    public static func run(_ script: String, _ arguments: [String]) throws {
        let log = NSTemporaryDirectory() + "pulsegate-script-\(UUID().uuidString).log"
        defer { try? FileManager.default.removeItem(atPath: log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([script] + arguments).map { (text: String) -> UnsafeMutablePointer<CChar>? in strdup(text) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, script, &actions, nil, argv, environ)
        guard spawned == 0 else { throw Failed(description: "cannot run \(script): error \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1, errno == EINTR {}
        let exited = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        guard exited == 0 else {
            let printed = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw Failed(description: "\(script) \(arguments.joined(separator: " ")) exited \(exited): \(printed)")
        }
    }
}
