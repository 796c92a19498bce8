/// A client's name for one push (the `Idempotency-Key` header), so that a push
/// sent again (a timeout, a 503 that was in fact stored, a proxy's retry) is
/// stored once: the second answer is the first one, and nothing is written twice.
public struct IdempotencyKey: Hashable, Sendable, CustomStringConvertible {
    public let text: String

    /// How long a key is remembered: a retry later than this is stored again.
    public static let retention: Duration = .seconds(24 * 3600)
    public static let maxLength = 128

    /// 1 to 128 visible ASCII characters (a UUID, a hash, a job's run id).
    public init?(_ text: String) {
        guard (1...Self.maxLength).contains(text.utf8.count), text.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else { return nil }
        self.text = text
    }

    public var description: String { text }
}

/// What a keyed write did.
public enum WriteReceipt: Sendable, Equatable {
    /// The samples were stored (committed).
    case stored
    /// A write with the same key was stored before, of `accepted` samples; nothing was stored now.
    case duplicate(accepted: Int)
}
