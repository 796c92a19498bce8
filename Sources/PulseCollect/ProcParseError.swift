/// A `/proc` file that did not have the shape the parser expects.
struct ProcParseError: Error, CustomStringConvertible {
    let description: String

    static func malformed(file: String, line: String) -> ProcParseError {
        ProcParseError(description: "unexpected line in \(file): \(line.prefix(120))")
    }

    static func missing(file: String, field: String) -> ProcParseError {
        ProcParseError(description: "\(file) has no \(field)")
    }
}
