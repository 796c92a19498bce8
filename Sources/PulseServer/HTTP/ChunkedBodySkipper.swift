/// Finds the end of a chunked request body (RFC 9112, 7.1) in the bytes as they
/// arrive, so that the head that follows it on the connection is counted from
/// its first byte. Lenient where NIO's decoder is strict: a malformed body is
/// the decoder's to refuse.
struct ChunkedBodySkipper {
    private enum State {
        /// Reading a chunk's size line (hexadecimal digits, then perhaps `;extensions`).
        case size(value: Int, inExtension: Bool)
        /// Inside a chunk's data.
        case data(remaining: Int)
        /// After a chunk's data, up to its line end.
        case dataEnd
        /// The trailer section after the last (empty) chunk; `lineLength` of the current line.
        case trailer(lineLength: Int)
    }

    private var state = State.size(value: 0, inExtension: false)

    /// How many bytes of `input` still belong to the body: all of them (`ended`
    /// false) or up to its end.
    mutating func skip(_ input: some Collection<UInt8>) -> (consumed: Int, ended: Bool) {
        var consumed = 0
        var index = input.startIndex
        while index != input.endIndex {
            if case let .data(remaining) = state {
                let step = min(remaining, input.distance(from: index, to: input.endIndex))
                index = input.index(index, offsetBy: step)
                consumed += step
                state = remaining == step ? .dataEnd : .data(remaining: remaining - step)
                continue
            }
            let byte = input[index]
            index = input.index(after: index)
            consumed += 1
            switch state {
            case let .size(value, inExtension):
                if byte == UInt8(ascii: "\n") {
                    state = value == 0 ? .trailer(lineLength: 0) : .data(remaining: value)
                } else if byte == UInt8(ascii: ";") {
                    state = .size(value: value, inExtension: true)
                } else if !inExtension, let digit = Self.hexDigit(byte) {
                    // A size beyond any body we would read: the decoder refuses it first.
                    state = .size(value: value > Int.max >> 5 ? value : value << 4 | digit, inExtension: false)
                }
            case .dataEnd:
                if byte == UInt8(ascii: "\n") { state = .size(value: 0, inExtension: false) }
            case let .trailer(lineLength):
                if byte == UInt8(ascii: "\n") {
                    if lineLength == 0 { return (consumed, true) }
                    state = .trailer(lineLength: 0)
                } else if byte != UInt8(ascii: "\r") {
                    state = .trailer(lineLength: lineLength + 1)
                }
            case .data:
                break
            }
        }
        return (consumed, false)
    }

    private static func hexDigit(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
        default: nil
        }
    }
}
