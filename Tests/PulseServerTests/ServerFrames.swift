/// The WebSocket frames in bytes a server sent (unmasked, RFC 6455 §5.2), for
/// tests that read a raw socket: what came, in order, and whether it was cut.
struct ServerFrames {
    struct Frame {
        let opcode: UInt8
        let payload: [UInt8]
        /// RSV1: compressed with permessage-deflate.
        var compressed = false

        var text: String? { opcode == 1 ? String(decoding: payload, as: UTF8.self) : nil }
        /// Whether this is a live frame of `type` (the server writes the type first), without decoding it.
        func isLive(_ type: String) -> Bool { opcode == 1 && payload.starts(with: Array(#"{"type":"\#(type)""#.utf8)) }
        /// A close frame's status code (1000, 1001, 1008, ...).
        var closeCode: Int? {
            opcode == 8 && payload.count >= 2 ? Int(payload[0]) << 8 | Int(payload[1]) : nil
        }
        var closeReason: String? {
            opcode == 8 && payload.count >= 2 ? String(decoding: payload.dropFirst(2), as: UTF8.self) : nil
        }
    }

    private(set) var frames: [Frame] = []
    /// Bytes of a frame not complete yet (a backlog can be megabytes: no copy per frame).
    private var pending: ArraySlice<UInt8> = []

    init(_ bytes: [UInt8] = []) {
        append(bytes)
    }

    mutating func append(_ bytes: [UInt8]) {
        pending = ArraySlice(pending + bytes)
        while let (frame, length) = Self.frame(at: pending) {
            frames.append(frame)
            pending = pending.dropFirst(length)
        }
    }

    var texts: [String] { frames.compactMap(\.text) }
    var close: Frame? { frames.first { $0.opcode == 8 } }

    /// The frame at the start of `bytes` and its length on the wire; nil until it is complete.
    private static func frame(at bytes: ArraySlice<UInt8>) -> (Frame, Int)? {
        let start = bytes.startIndex
        guard bytes.count >= 2 else { return nil }
        var length = Int(bytes[start + 1] & 0x7F)
        var header = 2
        if length == 126 {
            guard bytes.count >= 4 else { return nil }
            length = Int(bytes[start + 2]) << 8 | Int(bytes[start + 3])
            header = 4
        } else if length == 127 {
            guard bytes.count >= 10 else { return nil }
            length = bytes[(start + 2)..<(start + 10)].reduce(0) { $0 << 8 | Int($1) }
            header = 10
        }
        guard bytes.count >= header + length else { return nil }
        let frame = Frame(opcode: bytes[start] & 0x0F, payload: Array(bytes[(start + header)..<(start + header + length)]), compressed: bytes[start] & 0x40 != 0)
        return (frame, header + length)
    }
}
