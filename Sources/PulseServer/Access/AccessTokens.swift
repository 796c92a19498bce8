/// The tokens that open the gateway, each with its scopes, from
/// `--token-file` or `PULSEGATE_TOKENS`.
///
/// The format, one token per line in a file, or separated by spaces in the
/// variable: `scopes:token`, scopes separated by commas, e.g.
/// `read,write:9f2c…`; `#` starts a comment. A token is at least 16
/// characters of `[A-Za-z0-9._~+/=-]` (what a Bearer header may carry).
///
/// Lookups compare in constant time: every configured token is compared in
/// full, whatever the presented one is, so that timing says nothing about
/// how much of a guess was right, or which token it was close to.
public struct AccessTokens: Sendable {
    struct Entry: Sendable {
        let token: [UInt8]
        let scopes: Set<AccessScope>
    }

    let entries: [Entry]

    public struct ParseError: Error, CustomStringConvertible {
        public let description: String
    }

    public static let minimumLength = 16

    /// Parses the file or variable's text; `origin` names it in errors. The
    /// errors never repeat a token.
    public init(parsing text: String, origin: String) throws(ParseError) {
        var entries: [Entry] = []
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            for word in content.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" }) {
                guard let colon = word.firstIndex(of: ":") else {
                    throw ParseError(description: "\(origin):\(lineNumber): write each token as scopes:token, e.g. read,write:<token>")
                }
                var scopes: Set<AccessScope> = []
                for name in word[..<colon].split(separator: ",") {
                    guard let scope = AccessScope(rawValue: String(name)) else {
                        throw ParseError(description: "\(origin):\(lineNumber): unknown scope \"\(name.prefix(20))\"; scopes are read, write, metrics")
                    }
                    scopes.insert(scope)
                }
                let token = Array(word[word.index(after: colon)...].utf8)
                guard !scopes.isEmpty else { throw ParseError(description: "\(origin):\(lineNumber): a token needs at least one scope") }
                guard token.count >= Self.minimumLength else {
                    throw ParseError(description: "\(origin):\(lineNumber): a token must be at least \(Self.minimumLength) characters; make one with: openssl rand -hex 32")
                }
                guard token.allSatisfy(Self.isTokenByte) else {
                    throw ParseError(description: "\(origin):\(lineNumber): a token may hold only letters, digits and . _ ~ + / = -")
                }
                entries.append(Entry(token: token, scopes: scopes))
            }
        }
        guard !entries.isEmpty else { throw ParseError(description: "\(origin): no token in it") }
        self.entries = entries
    }

    /// The scopes of `presented`, or nil if it is no token of ours.
    func scopes(of presented: some Collection<UInt8>) -> Set<AccessScope>? {
        var found: Set<AccessScope>?
        for entry in entries where Self.constantTimeEquals(entry.token, presented) {
            found = entry.scopes
        }
        return found
    }

    /// Compares every byte of `secret`, and as many of `guess`, whatever differs.
    static func constantTimeEquals(_ secret: [UInt8], _ guess: some Collection<UInt8>) -> Bool {
        var difference: UInt8 = secret.count == guess.count ? 0 : 1
        var index = guess.startIndex
        for byte in secret {
            let other: UInt8
            if index != guess.endIndex {
                other = guess[index]
                index = guess.index(after: index)
            } else {
                other = ~byte  // past its end: still a comparison, always a difference
            }
            difference |= byte ^ other
        }
        return difference == 0
    }

    /// RFC 6750's token68 characters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="), UInt8(ascii: "-"): true
        default: false
        }
    }
}
