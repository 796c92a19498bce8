import PulseCore
import Testing

@Suite struct TimeTextTests {
    let now: Int64 = 1_764_470_000_000

    @Test(arguments: [
        ("now", Int64(1_764_470_000_000)),
        ("-15m", 1_764_470_000_000 - 900_000),
        ("now-1h", 1_764_470_000_000 - 3_600_000),
        ("-1h30m", 1_764_470_000_000 - 5_400_000),
        ("1764469000000", 1_764_469_000_000),
        ("0", 0),
        ("2025-11-30T02:33:20Z", 1_764_470_000_000),
        ("2025-11-30T02:33:20.250Z", 1_764_470_000_250),
        ("2025-11-30T03:33:20+01:00", 1_764_470_000_000),
    ] as [(String, Int64)])
    func parses(_ text: String, _ expected: Int64) {
        #expect(TimeText.milliseconds(text, now: now) == expected)
    }

    @Test(arguments: ["", "yesterday", "-15", "now-", "now+1h", "-1x", "2025-11-30", "2025-13-30T00:00:00Z", "12:00", "1e12", "9999999999999999", "-", " now"])
    func refuses(_ text: String) {
        #expect(TimeText.milliseconds(text, now: now) == nil)
    }
}
