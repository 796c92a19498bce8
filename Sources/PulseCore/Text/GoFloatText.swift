/// A float as Prometheus's Go libraries write one in the text format
/// (client_golang's `writeFloat`: `strconv.FormatFloat(f, 'g', -1, 64)`, with
/// `NaN`, `+Inf` and `-Inf`): the shortest digits that read back to the same
/// value, in exponent form when the exponent is below -4 or at least 6
/// (`1e+06`, `1.7965264179704123e+09`, `1e-05`, `123456`, `0.0001`).
/// Exposing pushed groups in exactly Pushgateway's text needs it.
public enum GoFloatText {
    public static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == 0 { return "0" }  // -0 too, as client_golang writes it
        // Swift's description has the same shortest digits; only the layout differs.
        let (digits, pointAt) = shortestDigits(abs(value))
        let exponent = pointAt - 1
        var text = value < 0 ? "-" : ""
        if exponent < -4 || exponent >= 6 {
            text.append(digits.first!)
            if digits.count > 1 { text += "." + digits.dropFirst() }
            text += exponent < 0 ? "e-" : "e+"
            let magnitude = String(abs(exponent))
            text += (magnitude.count < 2 ? "0" : "") + magnitude
        } else if pointAt <= 0 {
            text += "0." + String(repeating: "0", count: -pointAt) + digits
        } else if pointAt >= digits.count {
            text += digits + String(repeating: "0", count: pointAt - digits.count)
        } else {
            text += digits.prefix(pointAt) + "." + digits.dropFirst(pointAt)
        }
        return text
    }

    /// The significant digits of a positive finite value, without leading or
    /// trailing zeros, and where the decimal point goes: value = 0.digits × 10^pointAt.
    static func shortestDigits(_ value: Double) -> (digits: String, pointAt: Int) {
        let description = value.description  // "1796526417.9704123", "1e-05", "5e-324"
        let parts = description.split(separator: "e", maxSplits: 1)
        let exponent = parts.count == 2 ? Int(parts[1])! : 0
        let mantissa = parts[0]
        let integerPart = mantissa.prefix { $0 != "." }
        let fraction = mantissa.dropFirst(integerPart.count + 1)
        var digits = Substring(integerPart + fraction)
        var pointAt = integerPart.count + exponent
        while digits.first == "0" {
            digits = digits.dropFirst()
            pointAt -= 1
        }
        while digits.last == "0" { digits = digits.dropLast() }
        return (String(digits), pointAt)
    }
}
