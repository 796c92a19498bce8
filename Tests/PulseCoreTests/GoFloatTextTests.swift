import PulseCore
import Testing

/// Floats as Go's `strconv.FormatFloat(f, 'g', -1, 64)` writes them, which is
/// how Pushgateway (client_golang's text encoder) exposes every value.
@Suite struct GoFloatTextTests {
    /// Each pair as Go 1.19 prints it (`fmt.Println(strconv.FormatFloat(v, 'g', -1, 64))`),
    /// the first ones also seen in Pushgateway 1.5.1's own /metrics.
    @Test func asGoWritesThem() {
        let cases: [(Double, String)] = [
            (1796526417.9704123, "1.7965264179704123e+09"), (1e6, "1e+06"), (123456, "123456"), (1e-05, "1e-05"),
            (0.0001, "0.0001"), (1234.5, "1234.5"), (99, "99"), (1, "1"), (0, "0"), (-0.0, "0"), (-1, "-1"),
            (1234567, "1.234567e+06"), (100000, "100000"), (0.1, "0.1"), (1.5e-5, "1.5e-05"), (-2.5, "-2.5"),
            (1e21, "1e+21"), (1e100, "1e+100"), (5e-324, "5e-324"), (.greatestFiniteMagnitude, "1.7976931348623157e+308"),
            (12345678901234567890, "1.2345678901234567e+19"), (0.000123, "0.000123"), (999999, "999999"), (1e7, "1e+07"),
            (.nan, "NaN"), (.infinity, "+Inf"), (-.infinity, "-Inf"), (1e-4 * 3, "0.00030000000000000003"),
        ]
        for (value, expected) in cases {
            #expect(GoFloatText.format(value) == expected, "\(value)")
        }
    }

    /// The shortest digits read back to the very same value.
    @Test func roundTripsBitForBit() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let value = Double(bitPattern: generator.next())
            guard value.isFinite else { continue }
            let text = GoFloatText.format(value)
            #expect(Double(text)?.bitPattern == (value == 0 ? 0 : value.bitPattern), "\(value) → \(text)")
        }
    }
}
