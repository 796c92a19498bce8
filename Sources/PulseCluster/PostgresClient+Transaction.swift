import Logging
import PostgresNIO

extension PostgresClient {
    /// `withTransaction`, throwing what the body threw (postgres-nio wraps it
    /// in a `PostgresTransactionError`), so that callers can tell a refusal of
    /// ours from a database failure.
    func transaction<Result>(
        logger: Logger, isolation: isolated (any Actor)? = #isolation, _ body: (PostgresConnection) async throws -> sending Result
    ) async throws -> sending Result {
        do {
            return try await withTransaction(logger: logger, isolation: isolation, body)
        } catch let error as PostgresTransactionError {
            throw error.closureError ?? error.beginError ?? error.commitError ?? error
        }
    }
}
