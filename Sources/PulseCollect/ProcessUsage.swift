/// This process's CPU ticks (`/proc/self/stat`) and resident pages (`/proc/self/statm`).
struct ProcessUsage: Equatable, Sendable {
    /// User plus system time, in clock ticks.
    var cpuTicks: UInt64

    /// Parses `/proc/<pid>/stat`. The command name (field 2) is in parentheses
    /// and may itself hold spaces and parentheses, so fields are counted after
    /// its last `)`.
    static func parseStat(_ text: Substring) throws -> ProcessUsage {
        guard let close = text.lastIndex(of: ")") else {
            throw ProcParseError.malformed(file: "self/stat", line: String(text))
        }
        let fields = text[text.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        // After the name: state(3) ppid … utime(14) stime(15): indices 11 and 12 here.
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else {
            throw ProcParseError.malformed(file: "self/stat", line: String(text))
        }
        return ProcessUsage(cpuTicks: user + system)
    }

    /// Resident pages, the second field of `/proc/<pid>/statm`.
    static func parseResidentPages(_ text: Substring) throws -> UInt64 {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let pages = UInt64(fields[1]) else {
            throw ProcParseError.malformed(file: "self/statm", line: String(text))
        }
        return pages
    }
}
