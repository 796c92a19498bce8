/// The status codes of a WebSocket close frame (RFC 6455 §7.4) that this server sends or checks.
enum WebSocketCloseCode {
    static let normal: UInt16 = 1000
    static let goingAway: UInt16 = 1001
    static let protocolError: UInt16 = 1002
    static let invalidPayload: UInt16 = 1007
    static let policyViolation: UInt16 = 1008
    static let messageTooBig: UInt16 = 1009

    /// Whether a peer may send `code` in a close frame. 1004–1006 and 1015 are
    /// reserved, never sent on the wire; 1000–2999 beyond the registered ones
    /// belong to future revisions of the protocol; 3000–4999 are for libraries,
    /// frameworks and applications. Anything else fails the connection (1002).
    static func isValidOnTheWire(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}
