/// The cumulative CPU time counters of one line of `/proc/stat`, in clock ticks.
struct CPUTimes: Equatable, Sendable {
    /// Ticks spent doing anything but idling or waiting for I/O.
    var busy: UInt64
    /// All ticks (guest time is already part of user time, so it is not added again).
    var total: UInt64

    /// Share of `total` that was busy between `earlier` and `self`, or nil when no time passed.
    func usage(since earlier: CPUTimes) -> Double? {
        guard total > earlier.total, busy >= earlier.busy else { return nil }
        return min(1, Double(busy - earlier.busy) / Double(total - earlier.total))
    }

    /// Parses the `cpu` lines of `/proc/stat`: the key is "all" for the
    /// aggregate line and the core's number ("0", "1", …) for the others.
    static func parse(procStat text: Substring) throws -> [String: CPUTimes] {
        var result: [String: CPUTimes] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("cpu") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // user nice system idle iowait irq softirq steal [guest guest_nice]
            guard fields.count >= 5 else { throw ProcParseError.malformed(file: "stat", line: String(line)) }
            let values = try fields.dropFirst().prefix(8).map { field -> UInt64 in
                guard let value = UInt64(field) else { throw ProcParseError.malformed(file: "stat", line: String(line)) }
                return value
            }
            let idle = values[3] + (values.count > 4 ? values[4] : 0)
            let total = values.reduce(0, +)
            let name = fields[0].dropFirst(3)
            result[name.isEmpty ? "all" : String(name)] = CPUTimes(busy: total - idle, total: total)
        }
        guard result["all"] != nil else { throw ProcParseError.missing(file: "stat", field: "cpu") }
        return result
    }
}
