import Foundation

/// The C programs the live benchmark runs beside `pulsegate`, built with it:
/// `pulsegate-wsload`, the load client, and `pulsegate-wsref`, the minimal
/// epoll broadcaster that is the reference.
enum WSLoad {
    /// A program built next to this benchmark.
    static func sibling(_ name: String) -> String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    }

    /// Runs the load client to the end and returns its `key=value` figures.
    static func run(
        port: Int, connections: Int, serverPID: Int32, duration: Double = 10, warmup: Double = 1, deflate: Bool = false
    ) async throws -> [String: Double] {
        var arguments = ["--port", "\(port)", "--connections", "\(connections)", "--server-pid", "\(serverPID)",
                         "--duration", "\(duration)", "--warmup", "\(warmup)"]
        if deflate { arguments.append("--deflate") }
        let output = try await Self.output(of: sibling("pulsegate-wsload"), arguments)
        var figures: [String: Double] = [:]
        for pair in output.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let parts = pair.split(separator: "=", maxSplits: 1)
            if parts.count == 2, let value = Double(parts[1]) { figures[String(parts[0])] = value }
        }
        guard figures["connected"] == Double(connections) else { throw BenchError("the load client did not connect every client:\n\(output)") }
        return figures
    }

    /// Opens `connections` idle connections from `processes` load clients (a
    /// process holds at most its file limit), and returns once every one is
    /// upgraded; they stay open until `HeldConnections.release()`.
    static func hold(port: Int, connections: Int, processes: Int) async throws -> HeldConnections {
        var held: [(Process, FileHandle)] = []
        for index in 0..<processes {
            let share = connections / processes + (index < connections % processes ? 1 : 0)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: sibling("pulsegate-wsload"))
            process.arguments = ["--port", "\(port)", "--connections", "\(share)", "--idle"]
            let input = Pipe()
            let output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            held.append((process, input.fileHandleForWriting))
            let line = await withCheckedContinuation { continuation in
                Thread.detachNewThread { continuation.resume(returning: String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)) }
            }
            guard line.hasPrefix("connected=\(share) ") else {
                HeldConnections(held).release()
                throw BenchError("load client \(index + 1) did not connect its \(share): \(line)")
            }
        }
        return HeldConnections(held)
    }

    /// What a program writes to its standard output, once it has ended.
    private static func output(of binary: String, _ arguments: [String]) async throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        return await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let data = pipe.fileHandleForReading.readDataToEndOfFile()
                process.waitUntilExit()
                continuation.resume(returning: String(decoding: data, as: UTF8.self))
            }
        }
    }
}

/// Idle connections held by load clients.
struct HeldConnections {
    private let processes: [(Process, FileHandle)]

    init(_ processes: [(Process, FileHandle)]) {
        self.processes = processes
    }

    /// Ends the load clients (their input closed), and so their connections.
    func release() {
        for (_, input) in processes { try? input.close() }
        for (process, _) in processes { process.waitUntilExit() }
    }
}

/// The reference broadcaster, running.
final class ReferenceBroadcaster: @unchecked Sendable {
    let process = Process()
    let port: Int

    /// The C reference (`pulsegate-wsref`), or with `nio` the same on SwiftNIO channels (`pulsegate-wsref-nio`).
    init(rate: Double, series: Int, nio: Bool = false) throws {
        process.executableURL = URL(fileURLWithPath: WSLoad.sibling(nio ? "pulsegate-wsref-nio" : "pulsegate-wsref"))
        process.arguments = ["--port", "0", "--rate", "\(rate)", "--series", "\(series)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = String(decoding: pipe.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = Int(line.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") else {
            process.terminate()
            throw BenchError("the reference did not start: \(line)")
        }
        self.port = port
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
    }
}
