import NIOCore

/// Reads client frames off the bytes of a connection, checking every rule of
/// RFC 6455 §5 that a single frame can break: the mask a client must set, the
/// reserved bits (RSV1 only with permessage-deflate, and only on a data
/// frame), the reserved opcodes, control frames that are fragmented or longer
/// than 125 bytes, a 64-bit length with its top bit set, and a frame longer
/// than `maxPayload` (1009, refused from its header, before any of its
/// payload is held). Rules across frames (fragmentation, UTF-8) are
/// `ClientMessageAssembler`'s.
///
/// It holds nothing between reads when a read ends on a frame boundary, as
/// almost every read does: an idle connection keeps no buffer.
struct ClientFrameParser {
    let maxPayload: Int
    /// Whether permessage-deflate was negotiated, which gives RSV1 its meaning.
    let compressionNegotiated: Bool
    /// The bytes of a frame not yet complete.
    private var partial: ByteBuffer?

    init(maxPayload: Int, compressionNegotiated: Bool) {
        self.maxPayload = maxPayload
        self.compressionNegotiated = compressionNegotiated
    }

    /// The frames complete in what has arrived so far, in order, handed to
    /// `handle` one by one; a violation stops the parse (the connection is failed).
    mutating func parse(_ bytes: ByteBuffer, _ handle: (ClientFrame) throws(WebSocketViolation) -> Void) throws(WebSocketViolation) {
        var buffer: ByteBuffer
        if var partial = partial.take() {
            var bytes = bytes
            partial.writeBuffer(&bytes)
            buffer = partial
        } else {
            buffer = bytes
        }
        while let frame = try next(from: &buffer) {
            try handle(frame)
        }
        if buffer.readableBytes > 0 {
            buffer.discardReadBytes()
            partial = buffer
        }
    }

    /// The next whole frame at the front of `buffer` (consumed), or nil when it has not all arrived.
    private func next(from buffer: inout ByteBuffer) throws(WebSocketViolation) -> ClientFrame? {
        guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let second = buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self)
        else { return nil }
        let fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        guard first & 0x30 == 0 else { throw .protocolError("reserved bits RSV2 and RSV3 must be 0") }
        guard let opcode = ClientFrame.Opcode(rawValue: first & 0x0F) else {
            throw .protocolError("reserved opcode \(first & 0x0F)")
        }
        if rsv1 {
            guard compressionNegotiated else { throw .protocolError("RSV1 set without a negotiated extension") }
            guard !opcode.isControl, opcode != .continuation else {
                throw .protocolError("RSV1 is only for the first frame of a data message")
            }
        }
        guard second & 0x80 != 0 else { throw .protocolError("a client's frames must be masked") }
        var headerLength = 2
        var length = UInt64(second & 0x7F)
        switch length {
        case 126:
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return nil }
            length = UInt64(extended)
            headerLength += 2
        case 127:
            guard let extended = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt64.self) else { return nil }
            guard extended & (1 << 63) == 0 else { throw .protocolError("the most significant bit of a 64-bit length must be 0") }
            length = extended
            headerLength += 8
        default:
            break
        }
        if opcode.isControl {
            guard fin else { throw .protocolError("control frames must not be fragmented") }
            guard length <= 125 else { throw .protocolError("control frames carry at most 125 bytes") }
        }
        guard length <= UInt64(maxPayload) else {
            throw WebSocketViolation(code: WebSocketCloseCode.messageTooBig, reason: "a frame of \(length) bytes is more than \(maxPayload)")
        }
        let payloadLength = Int(length)
        guard buffer.readableBytes >= headerLength + 4 + payloadLength else { return nil }
        buffer.moveReaderIndex(forwardBy: headerLength)
        let mask = buffer.readBytes(length: 4)!
        var payload = buffer.readBytes(length: payloadLength)!
        for index in payload.indices {
            payload[index] ^= mask[index & 3]
        }
        return ClientFrame(fin: fin, compressed: rsv1, opcode: opcode, payload: payload)
    }
}
