import HTTPTypes

extension HTTPField.Name {
    /// A push's own name, so that a retry is stored once (`IdempotencyKey`).
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
    /// On the answer to a push whose key was stored before: this is that first answer again.
    static let idempotentReplayed = HTTPField.Name("Idempotent-Replayed")!
}
