import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What Prometheus's client libraries report as `process_*`: CPU time,
/// memory, file descriptors and start time of this process, read from `/proc`.
public struct ProcessStatus: Sendable, Equatable {
    public var cpuSeconds: Double
    public var residentBytes: Double
    public var virtualBytes: Double
    public var openFDs: Int
    /// The soft limit on open files; nil when unlimited or unknown.
    public var maxFDs: Int?
    /// Seconds since the Unix epoch.
    public var startTime: Double

    /// Reads `<procRoot>/self/{stat,statm,fd,limits}` and `<procRoot>/stat`
    /// (boot time). A missing or odd file is an error: the caller decides
    /// what to show without it.
    public static func read(procRoot: String = "/proc") throws -> ProcessStatus {
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        let stat = try ProcFile.read(procRoot + "/self/stat")
        let usage = try ProcessUsage.parseStat(stat)
        let startTicks = try parseStartTicks(stat)
        let statm = try ProcFile.read(procRoot + "/self/statm")
        let pages = statm.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Double($0) }
        guard pages.count >= 2 else { throw ProcParseError.malformed(file: "self/statm", line: String(statm)) }
        let bootTime = try parseBootTime(try ProcFile.read(procRoot + "/stat"))
        return ProcessStatus(
            cpuSeconds: Double(usage.cpuTicks) / ticksPerSecond,
            residentBytes: pages[1] * pageSize,
            virtualBytes: pages[0] * pageSize,
            openFDs: try countEntries(procRoot + "/self/fd"),
            maxFDs: parseMaxOpenFiles((try? ProcFile.read(procRoot + "/self/limits")) ?? ""),
            startTime: bootTime + Double(startTicks) / ticksPerSecond
        )
    }

    /// Field 22 of `/proc/self/stat`: start time in ticks after boot (fields counted after the name's last `)`).
    static func parseStartTicks(_ text: Substring) throws -> UInt64 {
        guard let close = text.lastIndex(of: ")") else { throw ProcParseError.malformed(file: "self/stat", line: String(text)) }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count > 19, let ticks = UInt64(fields[19]) else { throw ProcParseError.malformed(file: "self/stat", line: String(text)) }
        return ticks
    }

    /// `btime` of `/proc/stat`: boot time in seconds since the epoch.
    static func parseBootTime(_ text: Substring) throws -> Double {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            if let seconds = Double(line.dropFirst(6).trimmingPrefix(" ")) { return seconds }
        }
        throw ProcParseError.malformed(file: "stat", line: "no btime line")
    }

    /// The soft limit of "Max open files" in `/proc/self/limits`.
    static func parseMaxOpenFiles(_ text: Substring) -> Int? {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) else { return nil }
        return line.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Int($0) }
    }

    /// Entries of `directory` (open descriptors, for `/proc/self/fd`; the one that
    /// lists it among them, as Prometheus's own clients count).
    private static func countEntries(_ directory: String) throws -> Int {
        // Foundation's listing, not readdir by hand: a `dirent` is only as long as its
        // name, and copying its fixed-size `d_name` reads past the record.
        try FileManager.default.contentsOfDirectory(atPath: directory).count
    }
}
