import PulseCore
/// A URL's query as HTML forms and `URLSearchParams` write it
/// (application/x-www-form-urlencoded): `&`-separated `name=value` pairs, with
/// `+` for a space and `%XX` for a byte, in names as in values. Every endpoint
/// reads its parameters through this one type (`/history`, `/api/series`, the
/// live upgrade), so they decode alike and refuse alike: a 400 whose JSON
/// `error` names the parameter.
///
/// Hummingbird's `URI.queryParameters` decodes neither names nor `+`: the
/// matcher `host!=b` as `URLSearchParams` writes it, `host%21=b`, would reach a
/// handler as the label name `host%21`, and `cpu=all+cores` as `all+cores`.
struct QueryParameters: Sendable {
    /// The decoded pairs in their order; a pair without `=` has the value "".
    let pairs: [(name: String, value: String)]

    init(_ query: String?) {
        pairs = (query ?? "").split(separator: "&").map { pair in
            guard let equals = pair.firstIndex(of: "=") else { return (Self.decode(pair), "") }
            return (Self.decode(pair[..<equals]), Self.decode(pair[pair.index(after: equals)...]))
        }
    }

    /// Every value of a repeatable parameter, in order.
    func values(_ name: String) -> [String] {
        pairs.filter { $0.name == name }.map(\.value)
    }

    /// The value of a parameter that may be given once; nil when absent.
    func value(_ name: String) throws(APIError) -> String? {
        var found: String?
        for pair in pairs where pair.name == name {
            guard found == nil else { throw APIError(.badRequest, "\(name) is given more than once") }
            found = pair.value
        }
        return found
    }

    /// A parameter that must be a non-negative integer, given at most once.
    func integer<Value: FixedWidthInteger>(_ name: String, as: Value.Type = Value.self) throws(APIError) -> Value? {
        guard let text = try value(name) else { return nil }
        guard let number = Value(text), number >= 0 else {
            throw APIError(.badRequest, "\(name) must be a non-negative integer, got \"\(text.prefix(40))\"")
        }
        return number
    }

    /// `+` becomes a space and `%XX` its byte. As browsers do, a `%` without two
    /// hex digits after it stays as it is, and bytes that are not UTF-8 become U+FFFD.
    static func decode(_ text: Substring) -> String {
        let input = Array(text.utf8)
        guard input.contains(where: { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "%") }) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else if byte == UInt8(ascii: "%"), index + 2 < input.count, let high = HexDigit.value(input[index + 1]), let low = HexDigit.value(input[index + 2]) {
                bytes.append(high << 4 | low)
                index += 2
            } else {
                bytes.append(byte)
            }
            index += 1
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
