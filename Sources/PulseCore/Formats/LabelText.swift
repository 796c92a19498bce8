/// The label set in Prometheus's text notation: `{a="1",b="x\"y"}`.
enum LabelText {
    static func encode(_ labels: [Label]) -> String {
        guard !labels.isEmpty else { return "" }
        var out = "{"
        for (index, label) in labels.enumerated() {
            if index > 0 { out += "," }
            out += label.name
            out += "=\""
            for scalar in label.value.unicodeScalars {
                switch scalar {
                case "\\": out += "\\\\"
                case "\"": out += "\\\""
                case "\n": out += "\\n"
                default: out.unicodeScalars.append(scalar)
                }
            }
            out += "\""
        }
        return out + "}"
    }
}
