/// A Pushgateway group's grouping key, read from the part of a push's path
/// after `/metrics/`: `job/<job>{/<label>/<value>}`, as Pushgateway 1.x reads it.
///
/// - A name suffixed `@base64` carries its value in base64url (RFC 4648 §5,
///   padding optional): how a value holding `/` travels, and an empty one
///   (`=` alone; only labels other than `job` may be empty).
/// - Each segment is percent-decoded after the path is split at `/`, so an
///   encoded `%2F` stays inside its value.
/// - Label names follow Prometheus's rules, none starting with `__`, none twice.
/// - A trailing `/` is ignored.
public struct GroupingKey: Hashable, Sendable, CustomStringConvertible {
    /// Sorted by name, `job` among them.
    public let labels: [Label]

    public var job: String { labels.first { $0.name == "job" }!.value }

    public init(path: Substring) throws(GroupingKeyError) {
        var segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.last?.isEmpty == true { segments.removeLast() }
        guard segments.count >= 2, segments[0] == "job" || segments[0] == "job@base64" else {
            throw GroupingKeyError("a push's path is /metrics/job/<job>{/<label>/<value>}")
        }
        guard segments.count.isMultiple(of: 2) else {
            throw GroupingKeyError("the grouping key has a label name without a value (odd number of path segments after /metrics/)")
        }
        var labels: [Label] = []
        for index in stride(from: 0, to: segments.count, by: 2) {
            guard var name = Self.percentDecoded(segments[index]) else {
                throw GroupingKeyError("path segment \(index + 1) is not valid percent-encoded UTF-8")
            }
            let base64 = name.hasSuffix("@base64")
            if base64 { name.removeLast("@base64".count) }
            guard let raw = Self.percentDecoded(segments[index + 1]) else {
                throw GroupingKeyError("the value of \(SampleValidator.printable(name, limit: 64)) is not valid percent-encoded UTF-8")
            }
            var value = raw
            if base64 {
                guard let decoded = Self.base64URLDecoded(raw) else {
                    throw GroupingKeyError("the value of \(SampleValidator.printable(name, limit: 64))@base64 is not base64url, or does not decode to UTF-8")
                }
                value = decoded
            }
            if let problem = SampleValidator.labelNameProblem(name) {
                throw GroupingKeyError("grouping label: \(problem)")
            }
            guard !labels.contains(where: { $0.name == name }) else {
                throw GroupingKeyError("grouping label \(name) appears more than once")
            }
            if name == "job", value.isEmpty { throw GroupingKeyError("the job name must not be empty") }
            labels.append(Label(name, value))
        }
        self.labels = labels.sorted { $0.name < $1.name }
    }

    /// A pushed metric's labels as its group exposes them, sorted: the grouping
    /// key's replace the metric's own of the same names, and `instance=""` is
    /// there unless one or the other has an instance.
    public func exposing(_ labels: [Label]) -> [Label] {
        var merged = labels.filter { label in !self.labels.contains { $0.name == label.name } } + self.labels
        if !merged.contains(where: { $0.name == "instance" }) { merged.append(Label("instance", "")) }
        return merged.sorted { $0.name < $1.name }
    }

    public var description: String {
        labels.map { "\($0.name)=\($0.value)" }.joined(separator: ",")
    }

    /// `%XX` sequences as bytes, the whole as UTF-8; nil for a bad sequence or bad UTF-8.
    static func percentDecoded(_ segment: Substring) -> String? {
        guard segment.contains("%") else { return String(segment) }
        var bytes: [UInt8] = []
        var utf8 = segment.utf8[...]
        while let byte = utf8.popFirst() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard utf8.count >= 2, let high = HexDigit.value(utf8.popFirst()!), let low = HexDigit.value(utf8.popFirst()!) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// RFC 4648 §5 (`-` and `_` for `+` and `/`), trailing `=` padding optional, as
    /// Pushgateway reads it; nil when it is not base64url or not UTF-8.
    static func base64URLDecoded(_ text: String) -> String? {
        var digits: [UInt8] = []
        for byte in text.utf8.reversed().drop(while: { $0 == UInt8(ascii: "=") }).reversed() {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): digits.append(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): digits.append(byte - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digits.append(byte - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "-"): digits.append(62)
            case UInt8(ascii: "_"): digits.append(63)
            default: return nil
            }
        }
        // A lone last digit cannot end a group: 6 bits are less than a byte.
        guard digits.count % 4 != 1 else { return nil }
        var bytes: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for digit in digits {
            buffer = buffer << 6 | UInt32(digit)
            bits += 6
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        // Bits left over are ignored, as Go's RawURLEncoding (not in strict mode) ignores them.
        return String(validating: bytes, as: UTF8.self)
    }
}

/// A push's path that is not a grouping key, with why.
public struct GroupingKeyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
