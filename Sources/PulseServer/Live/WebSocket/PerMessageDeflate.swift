import PulseLive

/// permessage-deflate (RFC 7692) as this server speaks it: no context
/// takeover in either direction, so that every message is compressed on its
/// own. The server then compresses a published frame once for every client
/// that negotiated it (`LiveWireFormat.webSocketDeflate`), and keeps no
/// compression state per connection; a client's rare compressed messages are
/// each inflated afresh, bounded (`ClientMessageAssembler`).
enum PerMessageDeflate {
    static let name = "permessage-deflate"
    /// What the server answers to an offer it accepts. `client_no_context_takeover`
    /// is the server's to add even when not offered (RFC 7692 §7.1.1.1).
    static let response = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"

    /// Whether one of the client's `Sec-WebSocket-Extensions` offers can be
    /// accepted: a permessage-deflate offer whose parameters are known, each
    /// given once, with valid values, and which does not ask the server for a
    /// window smaller than 32 KiB (a frame compressed once cannot honour each
    /// client's window; such an offer is declined, as the RFC allows, and the
    /// client gets uncompressed frames).
    static func accepts(offers headerValues: [String]) -> Bool {
        headerValues
            .flatMap { $0.split(separator: ",") }
            .contains { offer in isAcceptable(offer) }
    }

    private static func isAcceptable(_ offer: Substring) -> Bool {
        let parts = offer.split(separator: ";", omittingEmptySubsequences: false).map { $0.trimmingSpaces }
        guard parts.first?.lowercased() == name else { return false }
        var seen: Set<String> = []
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingSpaces }
            guard let key = pair.first?.lowercased(), !key.isEmpty, seen.insert(key).inserted else { return false }
            let value = pair.count == 2 ? pair[1].unquoted : nil
            switch key {
            case "server_no_context_takeover", "client_no_context_takeover":
                guard value == nil else { return false }
            case "server_max_window_bits":
                guard let value, value == "15" else { return false }
            case "client_max_window_bits":
                // Without a value: the client can honour a limit. Ours is none (window 15).
                if let value { guard let bits = Int(value), (8...15).contains(bits), value.count <= 2 else { return false } }
            default:
                return false
            }
        }
        return true
    }
}

extension LiveWireFormat {
    /// Text frames compressed with permessage-deflate (RSV1 set), each on its
    /// own; a text that compression would not shrink goes uncompressed, as
    /// the extension allows.
    static func webSocketDeflate(_ deflater: RawDeflater) -> LiveWireFormat {
        LiveWireFormat(id: "websocket+deflate") { text in
            var text = text
            return text.withUTF8 { utf8 in
                deflater.compress(UnsafeRawBufferPointer(utf8)) { compressed in
                    compressed.count < utf8.count
                        ? ServerFrame.make(.text, compressed: true, payload: compressed)
                        : ServerFrame.make(.text, payload: utf8)
                }
            }
        }
    }

    /// Unmasked WebSocket text frames (RFC 6455 §5.2), as a server sends them.
    static let webSocketText = LiveWireFormat(id: "websocket", encode: ServerFrame.text)
}

private extension Substring {
    var trimmingSpaces: Substring {
        var trimmed = self
        while let first = trimmed.first, first == " " || first == "\t" { trimmed = trimmed.dropFirst() }
        while let last = trimmed.last, last == " " || last == "\t" { trimmed = trimmed.dropLast() }
        return trimmed
    }

    var unquoted: Substring {
        count >= 2 && first == "\"" && last == "\"" ? dropFirst().dropLast() : self
    }
}
