import CSQLite

/// One SQLite connection, opened without SQLite's own mutex.
///
/// Not thread-safe by design: each connection is owned by one thread at a time
/// (the writer's thread, or a reader borrowed from the pool), which is why it is
/// `@unchecked Sendable` rather than locked.
final class SQLiteConnection: @unchecked Sendable {
    let handle: OpaquePointer
    let path: String
    /// Statements prepared once and reused, keyed by their SQL.
    private var statements: [String: SQLiteStatement] = [:]

    init(path: String, readOnly: Bool) throws {
        _ = Self.libraryConfigured
        var db: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE))
            | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: "cannot open \(path): \(message)", sql: nil)
        }
        self.handle = db
        self.path = path
        sqlite3_busy_timeout(db, 5_000)
    }

    /// Process-wide settings, applied once before the first connection opens.
    private static let libraryConfigured: Bool = {
        pulsegate_sqlite3_disable_memory_statistics() == SQLITE_OK
    }()

    deinit {
        statements.removeAll()
        sqlite3_close_v2(handle)
    }

    /// Runs one or more statements that return no rows we need.
    func execute(_ sql: String) throws {
        var errorMessage: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errorMessage)
        if rc != SQLITE_OK {
            let message = errorMessage.map { String(cString: $0) } ?? lastErrorMessage
            sqlite3_free(errorMessage)
            throw SQLiteError(code: rc, message: message, sql: sql)
        }
    }

    func prepare(_ sql: String) throws -> SQLiteStatement {
        try SQLiteStatement(connection: self, sql: sql)
    }

    /// The prepared statement for `sql`, prepared on first use and kept for the
    /// connection's lifetime. The caller must leave it reset.
    func cached(_ sql: String) throws -> SQLiteStatement {
        if let statement = statements[sql] { return statement }
        let statement = try prepare(sql)
        statements[sql] = statement
        return statement
    }

    /// The first column of the first row of a query, as an integer.
    func scalarInt(_ sql: String) throws -> Int64? {
        let statement = try prepare(sql)
        return try statement.step() ? statement.int64(at: 0) : nil
    }

    /// Rows inserted, updated or deleted by the last statement.
    var changes: Int {
        Int(sqlite3_changes(handle))
    }

    var lastErrorMessage: String {
        String(cString: sqlite3_errmsg(handle))
    }

    func error(_ code: Int32, sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: lastErrorMessage, sql: sql)
    }
}
