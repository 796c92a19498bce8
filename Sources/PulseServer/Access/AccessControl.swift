import HTTPTypes

/// Who may do what: the configured tokens (none: everything is open, which
/// the executable allows only on loopback or a network said to be trusted),
/// and the decision for one request.
public struct AccessControl: Sendable {
    public let tokens: AccessTokens?

    public init(tokens: AccessTokens?) {
        self.tokens = tokens
    }

    public static let open = AccessControl(tokens: nil)

    /// The refusal for a request to `path`, whose route needs `scope`, or nil
    /// when it may go on. `queryToken` is `?token=` of a WebSocket upgrade, the
    /// one place it is read: a browser cannot set headers on one.
    func refusal(scope: AccessScope, path: String, authorization: String?, queryToken: String? = nil) -> APIError? {
        guard let tokens else { return nil }
        guard let presented = Self.bearer(authorization) ?? queryToken else {
            return APIError(
                .unauthorized, "\(path) needs a token with the \(scope.rawValue) scope: send Authorization: Bearer <token>",
                headers: Self.challenge
            )
        }
        guard let scopes = tokens.scopes(of: presented.utf8) else {
            return APIError(.unauthorized, "the token is not one of this gateway's", headers: Self.challenge)
        }
        guard scopes.contains(scope) else {
            return APIError(.forbidden, "the token's scopes (\(scopes.sorted().map(\.rawValue).joined(separator: ", "))) do not include \(scope.rawValue), which \(path) needs")
        }
        return nil
    }

    private static let challenge: HTTPFields = [.wwwAuthenticate: #"Bearer realm="pulsegate""#]

    /// The token of `Authorization: Bearer <token>` (the scheme in any case, RFC 9110).
    static func bearer(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        let token = header.dropFirst(7).trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token
    }
}
