import Foundation

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

    /// Its output to a file: the server it starts would hold a pipe open.
    private static func run(_ command: String, _ directory: String) throws {
        let log = directory + ".log"
        FileManager.default.createFile(atPath: log, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: log) }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "scripts/postgres-server")
        process.arguments = [command, directory]
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError("postgres-server \(command) failed: " + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))
        }
    }
}
