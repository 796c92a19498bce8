/// One frame a client sent, unmasked (RFC 6455 §5.2).
struct ClientFrame: Equatable {
    enum Opcode: UInt8 {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA

        var isControl: Bool { rawValue & 0x8 != 0 }
    }

    var fin: Bool
    /// RSV1: set on the first frame of a message compressed with permessage-deflate.
    var compressed: Bool
    var opcode: Opcode
    var payload: [UInt8]
}

/// Why a connection is failed (RFC 6455 §7.1.7): the close code it is failed
/// with, and a reason for the close frame and the log.
struct WebSocketViolation: Error, Equatable {
    let code: UInt16
    let reason: String

    static func protocolError(_ reason: String) -> WebSocketViolation {
        WebSocketViolation(code: WebSocketCloseCode.protocolError, reason: reason)
    }
}
