/// Labels as a JSON object with sorted keys, written and read without Foundation
/// so that the store's hot path and the model stay free of I/O frameworks.
public enum LabelJSON {
    /// Encodes labels (already sorted by name) as `{"a":"1","b":"2"}`.
    public static func encode(_ labels: [Label]) -> String {
        var out = ""
        append(labels, to: &out)
        return out
    }

    /// Appends what `encode` returns (no string of its own on a hot path: frames).
    public static func append(_ labels: [Label], to out: inout String) {
        out += "{"
        for (index, label) in labels.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(label.name, to: &out)
            out += ":"
            JSONText.appendString(label.value, to: &out)
        }
        out += "}"
    }

    /// Decodes what `encode` wrote. Returns nil for anything else: the store
    /// only ever reads back its own output.
    public static func decode(_ text: String) -> [Label]? {
        var parser = Parser(scalars: Array(text.unicodeScalars))
        return parser.parseObject()
    }

    private struct Parser {
        let scalars: [Unicode.Scalar]
        var index = 0

        mutating func parseObject() -> [Label]? {
            guard next() == "{" else { return nil }
            var labels: [Label] = []
            if peek() == "}" {
                index += 1
                return index == scalars.count ? labels : nil
            }
            while true {
                guard let name = parseString(), next() == ":", let value = parseString() else { return nil }
                labels.append(Label(name, value))
                switch next() {
                case ",": continue
                case "}": return index == scalars.count ? labels : nil
                default: return nil
                }
            }
        }

        mutating func parseString() -> String? {
            guard next() == "\"" else { return nil }
            var out = String.UnicodeScalarView()
            while let scalar = next() {
                switch scalar {
                case "\"":
                    return String(out)
                case "\\":
                    switch next() {
                    case "\"": out.append("\"")
                    case "\\": out.append("\\")
                    case "/": out.append("/")
                    case "n": out.append("\n")
                    case "r": out.append("\r")
                    case "t": out.append("\t")
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "u":
                        guard index + 4 <= scalars.count,
                              let code = UInt32(String(String.UnicodeScalarView(scalars[index..<index + 4])), radix: 16),
                              let decoded = Unicode.Scalar(code)
                        else { return nil }
                        index += 4
                        out.append(decoded)
                    default: return nil
                    }
                default:
                    out.append(scalar)
                }
            }
            return nil
        }

        mutating func next() -> Unicode.Scalar? {
            guard index < scalars.count else { return nil }
            defer { index += 1 }
            return scalars[index]
        }

        func peek() -> Unicode.Scalar? {
            index < scalars.count ? scalars[index] : nil
        }
    }
}
