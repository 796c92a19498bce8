import Hummingbird

/// Every route a router serves, with the access each declared: the check that
/// access fails closed. A route registered outside every `AccessGroup` has no
/// declaration, and one declared open must be on the public list; the gateway
/// refuses to start with either (`buildApplication`), and tests run the same
/// check over any router.
struct RouteInventory: Sendable {
    let routes: [RouteAccessTable.Key]
    let table: RouteAccessTable

    init<Context>(router: Router<Context>, table: RouteAccessTable) {
        self.routes = router.routes.map { RouteAccessTable.Key(method: $0.method, path: $0.path.description) }
        self.table = table
    }

    /// Routes served outside a router (the live upgrade, `LiveServerChannel`).
    init(routes: [RouteAccessTable.Key], table: RouteAccessTable) {
        self.routes = routes
        self.table = table
    }

    /// What is wrong, one line per route; empty when every route has its access.
    func problems(publicPaths: Set<String>) -> [String] {
        routes.compactMap { route in
            switch table.entries[route] {
            case nil:
                "\(route) has no declared access: register it in an AccessGroup (see buildRouter)"
            case .open where !publicPaths.contains(route.path):
                "\(route) is declared open but is not on the list of public paths"
            default:
                nil
            }
        }
    }

    /// The routes and their access, e.g. for a test to compare with its own list.
    var declared: [RouteAccessTable.Key: RouteAccess?] {
        Dictionary(routes.map { ($0, table.entries[$0]) }, uniquingKeysWith: { first, _ in first })
    }
}

/// The gateway would serve a route whose access nobody declared.
struct UndeclaredRouteAccess: Error, CustomStringConvertible {
    let problems: [String]
    var description: String { "routes without declared access: " + problems.joined(separator: "; ") }
}
