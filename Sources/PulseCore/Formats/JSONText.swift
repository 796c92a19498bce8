/// JSON string literals, written by hand for the hot paths (frames, history
/// bodies) where `JSONEncoder` would cost more than the work around it.
public enum JSONText {
    /// Appends `string` as a quoted JSON string, escaping what JSON requires.
    public static func appendString(_ string: String, to out: inout String) {
        out += "\""
        // Most strings (metric names, label values) need no escape: appended whole.
        guard string.utf8.contains(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") || $0 < 0x20 }) else {
            out += string
            out += "\""
            return
        }
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
