import Foundation

/// Reads a request head as its bytes arrive, without buffering it: counts its
/// bytes and header fields, finds its end (the empty line), and keeps of its
/// fields only what frames the body that follows (`Content-Length`,
/// `Transfer-Encoding`) and whether it asks for an `Upgrade`.
///
/// NIO's decoder still parses the head; this only has to be right about where
/// the head ends and how long the body is, so that the next head on a
/// kept-alive connection is counted from its own first byte.
struct RequestHeadScanner {
    /// How the body after a head is delimited.
    enum BodyFraming: Equatable {
        case none
        case length(Int)
        case chunked
    }

    enum Outcome: Equatable {
        /// Every byte given belongs to the head, which goes on.
        case incomplete
        /// The head ends after this many of the bytes given.
        case complete(consumed: Int)
        /// Over `maxBytes` before the request line ended.
        case requestLineTooLong
        /// Over `maxBytes` after it.
        case headTooLarge
        /// More than `maxFields` header fields.
        case tooManyFields
    }

    let maxBytes: Int
    let maxFields: Int

    private(set) var bytes = 0
    private(set) var fields = 0
    private(set) var framing = BodyFraming.none
    private(set) var upgrade = false
    private var requestLineEnded = false
    /// Bytes of the current line, CR and LF aside.
    private var lineLength = 0
    /// The current line's first bytes, lowercased: enough for the fields that frame a body.
    private var line: [UInt8] = []
    private static let keptLineBytes = 256

    init(maxBytes: Int, maxFields: Int) {
        self.maxBytes = maxBytes
        self.maxFields = maxFields
        line.reserveCapacity(Self.keptLineBytes)
    }

    /// Whether a head has begun (some of its bytes arrived).
    var started: Bool { bytes > 0 }

    /// Scans `input`, the bytes that follow what was scanned so far.
    mutating func scan(_ input: some Collection<UInt8>) -> Outcome {
        var consumed = 0
        for byte in input {
            consumed += 1
            bytes += 1
            if bytes > maxBytes { return requestLineEnded ? .headTooLarge : .requestLineTooLong }
            switch byte {
            case UInt8(ascii: "\n"):
                if lineLength == 0 {
                    // The empty line ends the head; before the request line, it is one
                    // of the empty lines a server should ignore (RFC 9112, 2.2).
                    if requestLineEnded { return .complete(consumed: consumed) }
                } else if !requestLineEnded {
                    requestLineEnded = true
                } else {
                    fields += 1
                    if fields > maxFields { return .tooManyFields }
                    readField()
                }
                lineLength = 0
                line.removeAll(keepingCapacity: true)
            case UInt8(ascii: "\r"):
                break
            default:
                lineLength += 1
                if requestLineEnded, line.count < Self.keptLineBytes {
                    line.append(byte | (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? 0x20 : 0))
                }
            }
        }
        return .incomplete
    }

    /// Starts over for the next request's head.
    mutating func reset() {
        self = RequestHeadScanner(maxBytes: maxBytes, maxFields: maxFields)
    }

    private mutating func readField() {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        let name = String(decoding: line[..<colon], as: UTF8.self)
        let value = String(decoding: line[line.index(after: colon)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        switch name {
        case "content-length":
            // An invalid or repeated length is the decoder's to refuse (400).
            if framing != .chunked, let length = Int(value), length >= 0 { framing = length > 0 ? .length(length) : .none }
        case "transfer-encoding":
            if value.contains("chunked") { framing = .chunked }
        case "upgrade":
            upgrade = !value.isEmpty
        default:
            break
        }
    }
}
