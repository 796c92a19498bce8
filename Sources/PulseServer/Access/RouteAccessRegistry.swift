import HTTPTypes

/// Collects the access of routes as `AccessGroup`s register them, while a
/// router is built (on one thread, before it serves); `table` is the result.
final class RouteAccessRegistry {
    private(set) var table = RouteAccessTable()

    func declare(_ access: RouteAccess, method: HTTPRequest.Method, path: String) {
        table.declare(access, method: method, path: path)
    }
}
