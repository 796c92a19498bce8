/// Durations written as people and Prometheus write them: `500ms`, `15s`,
/// `1m`, `1h30m`, `7d`, `2w`; a bare integer means milliseconds.
public enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000), ("y", 31_536_000_000),
    ]

    /// Milliseconds, or nil when `text` is not a duration or overflows.
    /// Units must come largest first, each at most once (`1h30m`, not `30m1h`).
    public static func milliseconds(_ text: String) -> Int64? {
        guard !text.isEmpty else { return nil }
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return text.utf8.count <= 18 ? Int64(text) : nil
        }
        var rest = Substring(text)
        var total: Int64 = 0
        var lastUnit = Int64.max
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 18, let number = Int64(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            // "ms" before "m", so that 5ms is not read as 5 minutes and an "s".
            guard let unit = units.first(where: { rest.hasPrefix($0.suffix) }), unit.milliseconds < lastUnit else { return nil }
            rest = rest.dropFirst(unit.suffix.count)
            lastUnit = unit.milliseconds
            let (product, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
            guard !overflow else { return nil }
            let (sum, sumOverflow) = total.addingReportingOverflow(product)
            guard !sumOverflow else { return nil }
            total = sum
        }
        return total
    }

    /// A Swift `Duration`, or nil (see `milliseconds(_:)`).
    public static func duration(_ text: String) -> Duration? {
        milliseconds(text).map { .milliseconds($0) }
    }

    /// The shortest exact spelling: 90000 → `1m30s`, 1500 → `1s500ms`, 0 → `0s`;
    /// with `largestUnit: "d"`, 90 days stay `90d` (not `12w6d`), as people write retentions.
    public static func format(milliseconds: Int64, largestUnit: String = "w") -> String {
        guard milliseconds > 0 else { return "0s" }
        let ceiling = units.first { $0.suffix == largestUnit }?.milliseconds ?? 604_800_000
        var rest = milliseconds
        var out = ""
        for unit in units.reversed() where unit.milliseconds <= ceiling && rest >= unit.milliseconds {
            out += "\(rest / unit.milliseconds)\(unit.suffix)"
            rest %= unit.milliseconds
        }
        return out
    }
}
