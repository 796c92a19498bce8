extension Result where Failure == any Error {
    /// The outcome of an async throwing body, as a value: for tests that must
    /// clean up (stop a server, drop a database) whether or not the body threw.
    public init(_ body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
