import Foundation

/// A `pulsegate` started by a benchmark, measured through `/proc/<pid>`.
final class ServerProcess: @unchecked Sendable {
    let process = Process()
    private let output = Pipe()
    private let lock = NSLock()
    private var log = ""
    let directory: String
    private(set) var port = 0

    init(binary: String, arguments: [String]) throws {
        directory = try Measure.scratchDirectory()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0", "--db", directory + "/bench.sqlite", "--log-level", "info"] + arguments
        process.standardOutput = output
        process.standardError = output
    }

    func start() async throws {
        try process.run()
        collectOutput()
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let text = lock.withLock { log }
            if let range = text.range(of: "listening on 127.0.0.1:"), let port = Int(text[range.upperBound...].prefix { $0.isNumber }) {
                self.port = port
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("the server did not start:\n" + lock.withLock { log })
    }

    /// Reads the output on a thread of its own until end of file. (A FileHandle's
    /// readabilityHandler is a dispatch source; torn down while the pipe closed, it
    /// crashed libdispatch's event loop now and then.)
    private func collectOutput() {
        let reader = output.fileHandleForReading
        Thread.detachNewThread { [weak self] in
            while case let data = reader.availableData, !data.isEmpty {
                guard let self else { return }
                self.lock.withLock { self.log += String(decoding: data, as: UTF8.self) }
            }
        }
    }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        // What the store did in the run (commits, rows, checkpoints), from its last words.
        let text = lock.withLock { log }
        for line in text.split(separator: "\n") where line.contains("store closed") {
            print("server: " + line)
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// User plus system CPU time of the server so far, in seconds.
    var cpuSeconds: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")")
        else { return .nan }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Resident memory of the server now, in bytes.
    var residentBytes: Double {
        guard let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/statm", encoding: .utf8) else { return .nan }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return .nan }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
