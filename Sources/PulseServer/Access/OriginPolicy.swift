/// Which web pages may open the live stream: a browser sends the page's
/// origin with every WebSocket upgrade, and a page of another site must not
/// read a user's metrics through the user's own browser (cross-site WebSocket
/// hijacking). Same origin is allowed, and the origins listed with
/// `--allowed-origin`; a client that sends no `Origin` is no browser page,
/// and goes by its token alone.
public struct OriginPolicy: Sendable {
    /// Lowercased `scheme://host[:port]`, as browsers send them.
    public let allowed: Set<String>

    public init(allowed: [String] = []) {
        self.allowed = Set(allowed.map { Self.normalized($0) })
    }

    /// Nil when the upgrade may go on; else why not.
    func refusal(origin: String?, host: String?) -> String? {
        guard let origin else { return nil }
        let normalized = Self.normalized(origin)
        if allowed.contains(normalized) || allowed.contains("*") { return nil }
        guard let host = host?.lowercased() else { return "a WebSocket upgrade with an Origin but no Host is refused" }
        // Same origin: the page was served by this host and port, over http or https.
        if let authority = Self.authority(of: normalized, schemes: ["http://", "https://"]), authority == host { return nil }
        // Browsers send the origin of a page, never a ws:// one: such an Origin comes
        // from a WebSocket client library naming the server it dials (swift-websocket
        // does, without the port), which is no cross-site page.
        if let authority = Self.authority(of: normalized, schemes: ["ws://", "wss://"]), Self.hostPart(authority) == Self.hostPart(host) { return nil }
        return "a WebSocket upgrade from the page at \(origin.prefix(100)) is refused: only this server's own pages may connect; allow that origin with --allowed-origin \(origin.prefix(100))"
    }

    static func normalized(_ origin: String) -> String {
        var text = origin.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// `host[:port]` of `scheme://host[:port]`, for the given schemes.
    static func authority(of origin: String, schemes: [String]) -> String? {
        for scheme in schemes where origin.hasPrefix(scheme) {
            let rest = origin.dropFirst(scheme.count)
            return rest.isEmpty || rest.contains("/") ? nil : String(rest)
        }
        return nil
    }

    /// `host` of `host[:port]` (an IPv6 address in brackets keeps them).
    static func hostPart(_ authority: String) -> Substring {
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") { return authority[...close] }
        return authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}
