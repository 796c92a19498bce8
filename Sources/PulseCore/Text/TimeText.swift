import Foundation

/// Points in time as a query may write them: Unix milliseconds (`1764470000000`),
/// RFC 3339 (`2026-11-30T03:00:00Z`, `…00.250+01:00`), `now`, or relative to now
/// (`-15m`, `now-1h`, `-1h30m`).
public enum TimeText {
    /// Milliseconds since the epoch, or nil when `text` is none of the forms above.
    public static func milliseconds(_ text: String, now: Int64) -> Int64? {
        if text == "now" { return now }
        if text.hasPrefix("now-") { return relative(text.dropFirst(4), now: now) }
        if text.hasPrefix("-") { return relative(text.dropFirst(), now: now) }
        if !text.isEmpty, text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return text.utf8.count <= 15 ? Int64(text) : nil
        }
        return rfc3339(text)
    }

    private static func relative(_ duration: Substring, now: Int64) -> Int64? {
        // A bare number after "-" would be ambiguous (ms ago, or a negative timestamp?): a unit is required.
        guard let last = duration.last, !last.isNumber, let milliseconds = DurationText.milliseconds(String(duration)) else { return nil }
        return now - milliseconds
    }

    private static func rfc3339(_ text: String) -> Int64? {
        // RFC 3339 needs a date, a T, a time and a zone; be strict about the shape before parsing.
        guard text.count >= 20, text.count <= 40, text.contains("T") else { return nil }
        let styles = [
            Date.ISO8601FormatStyle(includingFractionalSeconds: true),
            Date.ISO8601FormatStyle(includingFractionalSeconds: false),
        ]
        for style in styles {
            if let date = try? style.parse(text) {
                let milliseconds = (date.timeIntervalSince1970 * 1000).rounded()
                guard milliseconds.isFinite, abs(milliseconds) < 9.2e18 else { return nil }
                return Int64(milliseconds)
            }
        }
        return nil
    }
}
