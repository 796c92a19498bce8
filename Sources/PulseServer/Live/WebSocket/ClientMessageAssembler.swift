/// A client's message, whole: its frames joined, inflated when it was
/// compressed, and for text, checked to be UTF-8.
enum ClientMessage: Equatable {
    case text(String)
    case binary([UInt8])
}

/// Joins a client's data frames into messages, enforcing the rules that span
/// frames (RFC 6455 §5.4, §8.1; RFC 7692 §6): a continuation needs a message
/// to continue, a new message must wait for the last one's final frame, the
/// whole message is at most `maxMessageBytes` (1009), inflated too, and a
/// text message is valid UTF-8 (1007). Control frames may come between the
/// fragments; they are not its business.
struct ClientMessageAssembler {
    let maxMessageBytes: Int
    private var opcode: ClientFrame.Opcode?
    private var compressed = false
    private var fragments: [UInt8] = []

    init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// The message `frame` completes, if it does.
    mutating func append(_ frame: ClientFrame) throws(WebSocketViolation) -> ClientMessage? {
        switch frame.opcode {
        case .text, .binary:
            guard opcode == nil else { throw .protocolError("a new message began before the last one's final frame") }
            if frame.fin { return try message(frame.opcode, compressed: frame.compressed, frame.payload) }
            opcode = frame.opcode
            compressed = frame.compressed
            fragments = frame.payload
            return nil
        case .continuation:
            guard let opcode else { throw .protocolError("a continuation frame with no message to continue") }
            guard fragments.count + frame.payload.count <= maxMessageBytes else {
                throw WebSocketViolation(code: WebSocketCloseCode.messageTooBig, reason: "a message of more than \(maxMessageBytes) bytes")
            }
            fragments += frame.payload
            guard frame.fin else { return nil }
            defer {
                self.opcode = nil
                fragments = []
            }
            return try message(opcode, compressed: compressed, fragments)
        case .close, .ping, .pong:
            return nil
        }
    }

    private func message(_ opcode: ClientFrame.Opcode, compressed: Bool, _ payload: [UInt8]) throws(WebSocketViolation) -> ClientMessage {
        var bytes = payload
        if compressed {
            do {
                bytes = try Inflate.inflate(payload + [0x00, 0x00, 0xFF, 0xFF], .rawDeflate, limit: maxMessageBytes)
            } catch .tooLarge {
                throw WebSocketViolation(code: WebSocketCloseCode.messageTooBig, reason: "a message that inflates to more than \(maxMessageBytes) bytes")
            } catch {
                throw WebSocketViolation(code: WebSocketCloseCode.invalidPayload, reason: "a compressed message that is not valid deflate data")
            }
        }
        guard opcode == .text else { return .binary(bytes) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw WebSocketViolation(code: WebSocketCloseCode.invalidPayload, reason: "a text message that is not valid UTF-8")
        }
        return .text(text)
    }
}
