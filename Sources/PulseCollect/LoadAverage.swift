/// The 1, 5 and 15 minute load averages from `/proc/loadavg`.
struct LoadAverage: Equatable, Sendable {
    var one: Double
    var five: Double
    var fifteen: Double

    static func parse(_ text: Substring) throws -> LoadAverage {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 3,
              let one = Double(fields[0]), let five = Double(fields[1]), let fifteen = Double(fields[2]),
              one.isFinite, five.isFinite, fifteen.isFinite
        else {
            throw ProcParseError.malformed(file: "loadavg", line: String(text))
        }
        return LoadAverage(one: one, five: five, fifteen: fifteen)
    }
}
