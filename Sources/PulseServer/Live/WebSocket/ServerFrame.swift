import NIOCore

/// Frames as this server sends them (RFC 6455 §5.2): final, unmasked, the
/// header and the payload in one buffer, ready for the socket.
enum ServerFrame {
    enum Opcode: UInt8 {
        case text = 0x1
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// A frame of `payload.count` bytes; `compressed` sets RSV1 (permessage-deflate).
    static func make(_ opcode: Opcode, compressed: Bool = false, payload: some Collection<UInt8>) -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: payload.count + 10)
        writeHeader(opcode, compressed: compressed, length: payload.count, into: &buffer)
        buffer.writeBytes(payload)
        return buffer
    }

    /// What every ping is: the same bytes for every connection.
    static let emptyPing = make(.ping, payload: [])

    static func text(_ text: String) -> ByteBuffer {
        make(.text, payload: text.utf8)
    }

    /// A close frame with its status code, and a reason cut to fit a control frame's 125 bytes.
    static func close(code: UInt16, reason: String) -> ByteBuffer {
        var text = Substring(reason)
        while text.utf8.count > 123 { text = text.dropLast() }  // whole characters only
        let payload = [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(text.utf8)
        return make(.close, payload: payload)
    }

    static func writeHeader(_ opcode: Opcode, compressed: Bool, length: Int, into buffer: inout ByteBuffer) {
        buffer.writeInteger(0x80 | (compressed ? 0x40 : 0) | opcode.rawValue)  // FIN, RSV1, opcode
        switch length {
        case ..<126:
            buffer.writeInteger(UInt8(length))
        case ..<65_536:
            buffer.writeInteger(UInt8(126))
            buffer.writeInteger(UInt16(length))
        default:
            buffer.writeInteger(UInt8(127))
            buffer.writeInteger(UInt64(length))
        }
    }
}
