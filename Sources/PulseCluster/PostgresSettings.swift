import Foundation
import PostgresNIO

/// Where the cluster's PostgreSQL is, from a `postgres://` URL.
///
/// The password may be in the URL, or come from elsewhere (a variable or a
/// file, which the executable reads); it is never part of `description`, so
/// the settings can be logged and named in errors.
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `sslmode` from the URL: disable, prefer (the default) or require.
    public var tls: TLSMode

    public enum TLSMode: String, Sendable, CaseIterable {
        case disable, prefer, require
    }

    /// Why a URL cannot be used; the message never holds the password.
    public struct InvalidURL: Error, CustomStringConvertible {
        public let description: String
    }

    /// Reads `postgres://user[:password]@host[:port]/database[?sslmode=…]`
    /// (`postgresql://` too). User, host and database are required.
    public init(url text: String) throws {
        let redacted = Self.redact(text)
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            throw InvalidURL(description: "\(redacted) is not a URL: write postgres://user:password@host:5432/database")
        }
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw InvalidURL(description: "\(redacted) must start with postgres:// (it starts with \(scheme)://)")
        }
        guard let host = components.host, !host.isEmpty else {
            throw InvalidURL(description: "\(redacted) names no host: write postgres://user:password@host:5432/database")
        }
        guard let user = components.user, !user.isEmpty else {
            throw InvalidURL(description: "\(redacted) names no user: write postgres://user:password@host:5432/database")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw InvalidURL(description: "\(redacted) names no database: write postgres://user:password@host:5432/database")
        }
        if let port = components.port, !(1...65_535).contains(port) {
            throw InvalidURL(description: "\(redacted) has port \(port), outside 1...65535")
        }
        var tls = TLSMode.prefer
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard let mode = item.value.flatMap(TLSMode.init(rawValue:)) else {
                    throw InvalidURL(description: "\(redacted): sslmode must be one of disable, prefer, require")
                }
                tls = mode
            default:
                throw InvalidURL(description: "\(redacted): unknown parameter \(item.name) (only sslmode is read)")
            }
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = user
        self.password = components.password
        self.database = database
        self.tls = tls
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    public var description: String {
        "postgres://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)" + (tls == .prefer ? "" : "?sslmode=\(tls.rawValue)")
    }

    /// `text` with whatever stands between `user:` and `@` replaced, for URLs that do not parse.
    static func redact(_ text: String) -> String {
        guard let schemeEnd = text.range(of: "://"), let at = text[schemeEnd.upperBound...].lastIndex(of: "@") else { return text }
        let userInfo = text[schemeEnd.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":***" + String(text[at...])
    }

    /// postgres-nio's client configuration for these settings.
    var clientConfiguration: PostgresClient.Configuration {
        let tlsSetting: PostgresClient.Configuration.TLS
        switch tls {
        case .disable: tlsSetting = .disable
        case .prefer: tlsSetting = .prefer(.makeClientConfiguration())
        case .require: tlsSetting = .require(.makeClientConfiguration())
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tlsSetting
        )
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 8
        return configuration
    }
}

extension PostgresSettings {
    /// postgres-nio's configuration for a single connection (the stream's LISTEN connection).
    /// A single connection's settings; `applicationName` is what `pg_stat_activity` shows for it.
    func connectionConfiguration(applicationName: String = "pulsegate") throws -> PostgresConnection.Configuration {
        let tlsSetting: PostgresConnection.Configuration.TLS
        switch tls {
        case .disable: tlsSetting = .disable
        case .prefer: tlsSetting = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: tlsSetting = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tlsSetting
        )
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.additionalStartupParameters = [("application_name", applicationName)]
        return configuration
    }
}
