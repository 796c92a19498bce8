import PulseCore
import Testing

@Suite struct DurationTextTests {
    @Test(arguments: [
        ("0", Int64(0)), ("1500", 1_500), ("500ms", 500), ("1s", 1_000), ("15s", 15_000), ("1m", 60_000),
        ("1h", 3_600_000), ("1h30m", 5_400_000), ("7d", 604_800_000), ("2w", 1_209_600_000), ("1m30s500ms", 90_500),
        ("1y", 31_536_000_000),
    ])
    func parses(_ text: String, _ expected: Int64) {
        #expect(DurationText.milliseconds(text) == expected)
    }

    @Test(arguments: ["", "-1s", "1", "s", "1x", "1.5s", "1s1h", "1m1m", "1 s", " 1s", "1S", "9999999999999999999s", "106751991168d", "1e3"])
    func refuses(_ text: String) {
        if text == "1" {
            #expect(DurationText.milliseconds(text) == 1)  // bare integers are milliseconds
        } else {
            #expect(DurationText.milliseconds(text) == nil)
        }
    }

    @Test(arguments: [Int64(0), 1, 999, 1_000, 60_000, 90_500, 3_600_000, 86_400_000, 694_861_001])
    func formatsWhatItParses(_ ms: Int64) {
        #expect(DurationText.milliseconds(DurationText.format(milliseconds: ms)) == ms)
    }

    @Test func formatsShortly() {
        #expect(DurationText.format(milliseconds: 90_000) == "1m30s")
        #expect(DurationText.format(milliseconds: 604_800_000) == "1w")
    }
}
