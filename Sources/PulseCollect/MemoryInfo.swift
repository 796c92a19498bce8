/// Memory totals from `/proc/meminfo`, in bytes.
struct MemoryInfo: Equatable, Sendable {
    var total: UInt64
    var available: UInt64

    /// What applications hold: total minus what could be given to them without swapping.
    var used: UInt64 { total >= available ? total - available : 0 }

    static func parse(_ text: Substring) throws -> MemoryInfo {
        var total: UInt64?
        var available: UInt64?
        for line in text.split(separator: "\n") {
            if line.hasPrefix("MemTotal:") {
                total = try kibibytes(line)
            } else if line.hasPrefix("MemAvailable:") {
                available = try kibibytes(line)
            }
        }
        guard let total else { throw ProcParseError.missing(file: "meminfo", field: "MemTotal") }
        guard let available else { throw ProcParseError.missing(file: "meminfo", field: "MemAvailable") }
        return MemoryInfo(total: total, available: available)
    }

    /// `MemTotal:   16318048 kB` → bytes.
    private static func kibibytes(_ line: Substring) throws -> UInt64 {
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 2, let value = UInt64(fields[1]) else {
            throw ProcParseError.malformed(file: "meminfo", line: String(line))
        }
        let multiplier: UInt64 = fields.count >= 3 && fields[2] == "kB" ? 1024 : 1
        return value * multiplier
    }
}
