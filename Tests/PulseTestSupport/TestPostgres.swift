import Foundation
import Logging
import PostgresNIO

/// The throwaway PostgreSQL server the test command starts (`scripts/test`,
/// through `scripts/postgres-server`), named by `PULSEGATE_TEST_POSTGRES_URL`.
/// Each test takes a database of its own on it, so that tests never see each
/// other's rows. Without the variable, the tests that need PostgreSQL are not
/// run (the embedded suite needs none); under CI it must be there.
public enum TestPostgres {
    public static let url: String? = ProcessInfo.processInfo.environment["PULSEGATE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }

    public static var isAvailable: Bool { url != nil }

    /// A new empty database on the test server, its URL and a way to drop it.
    public struct Database: Sendable {
        public let name: String
        public let url: String
        let admin: URLComponents

        /// Removes the database, ending any connection still open to it.
        public func drop() async throws {
            try await TestPostgres.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)", at: admin)
        }

        /// Runs one statement in this database (for tests that reach around the store).
        public func execute(_ sql: String) async throws {
            _ = try await TestPostgres.execute(sql, at: components)
        }

        /// The first column of the first row of a query in this database, as text.
        public func scalar(_ sql: String) async throws -> String? {
            try await TestPostgres.execute(sql, at: components)
        }

        private var components: URLComponents {
            var components = admin
            components.path = "/" + name
            return components
        }
    }

    public static func createDatabase() async throws -> Database {
        guard let url, let admin = URLComponents(string: url) else { throw MissingServer() }
        let name = "test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try await execute("CREATE DATABASE \(name)", at: admin)
        var components = admin
        components.path = "/" + name
        return Database(name: name, url: components.string!, admin: admin)
    }

    struct MissingServer: Error, CustomStringConvertible {
        var description: String { "PULSEGATE_TEST_POSTGRES_URL is not set: run the tests through scripts/test, which starts PostgreSQL" }
    }

    @discardableResult
    static func execute(_ sql: String, at components: URLComponents) async throws -> String? {
        let configuration = PostgresConnection.Configuration(
            host: components.host ?? "127.0.0.1", port: components.port ?? 5432,
            username: components.user ?? "postgres", password: components.password,
            database: String(components.path.dropFirst()), tls: .disable
        )
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: logger)
        let first: String?
        do {
            // Text, or nil for no row and for a first column that is not text (void, say).
            let row = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger).collect().first
            first = row.flatMap { try? $0.decode(String?.self) } ?? nil
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        return first
    }

    static let logger: Logger = {
        var logger = Logger(label: "test-postgres")
        logger.logLevel = .critical
        return logger
    }()
}
