import CSQLite

/// A failed SQLite call, with SQLite's own message and, where there was one, the statement.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        if let sql { return "SQLite error \(code): \(message) (in \(sql))" }
        return "SQLite error \(code): \(message)"
    }

    /// The disk or the file refuses writes: full, read-only, or I/O errors.
    public var isStorageFault: Bool {
        switch code & 0xFF {
        case SQLITE_FULL, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_PERM: return true
        default: return false
        }
    }
}
