import HTTPTypes

/// The access each route declared, by method and path: what `AccessGroup`
/// recorded as routes were registered through it. The WebSocket admission
/// reads it; `RouteInventory` checks it against the router's routes.
struct RouteAccessTable: Sendable {
    struct Key: Hashable, Sendable, CustomStringConvertible {
        let method: String
        let path: String

        init(method: HTTPRequest.Method, path: String) {
            self.method = method.rawValue
            self.path = Self.normalized(path)
        }

        var description: String { "\(method) \(path)" }

        /// The router matches `/healthz/` as `/healthz`: empty segments do not count.
        static func normalized(_ path: String) -> String {
            "/" + path.split(separator: "/").joined(separator: "/")
        }
    }

    private(set) var entries: [Key: RouteAccess] = [:]

    func access(method: HTTPRequest.Method, path: String) -> RouteAccess? {
        entries[Key(method: method, path: path)]
    }

    mutating func declare(_ access: RouteAccess, method: HTTPRequest.Method, path: String) {
        entries[Key(method: method, path: path)] = access
    }
}
