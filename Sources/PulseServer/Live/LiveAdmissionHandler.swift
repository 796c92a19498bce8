import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import PulseLive

/// Refuses live upgrades that cannot be served with a proper HTTP answer.
///
/// Hummingbird answers any refused WebSocket upgrade with an empty 400. This
/// handler sits in front of the upgrade: a `/ws/metrics` upgrade from another
/// site's page gets a 403, one without the token it needs a 401 (or 403 for
/// a token without the read scope; here `?token=` counts, as a browser cannot
/// set headers on an upgrade), one with bad parameters a 400, and one beyond
/// the connection limit a 503, each with a JSON body that says why. The scope
/// an upgrade needs is the one its route declared where it was registered
/// (`RouteAccessTable`), the same declaration that guards it in the WebSocket
/// router. Anything else passes, and the handler leaves the pipeline after the
/// first request (only a first request can upgrade).
final class LiveAdmissionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let hub: LiveHub
    private let access: AccessControl
    /// The access each WebSocket route declared where it was registered.
    private let routes: RouteAccessTable
    private let origins: OriginPolicy
    private var refusal: APIError?

    init(hub: LiveHub, access: AccessControl, routes: RouteAccessTable, origins: OriginPolicy) {
        self.hub = hub
        self.access = access
        self.routes = routes
        self.origins = origins
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let refusal {
            if case .end = part { respond(refusal, context: context) }
            return
        }
        guard case let .head(head) = part else {
            context.fireChannelRead(data)
            return
        }
        if let refusal = decide(head) {
            self.refusal = refusal
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func decide(_ head: HTTPRequestHead) -> APIError? {
        let uri = URI(head.uri)
        // An upgrade to a path with no WebSocket route is no upgrade: the HTTP router answers it.
        guard head.headers[canonicalForm: "upgrade"].contains(where: { $0.lowercased() == "websocket" }),
              let declared = routes.access(method: .get, path: uri.path)
        else { return nil }
        if let reason = origins.refusal(origin: head.headers.first(name: "origin"), host: head.headers.first(name: "host")) {
            return APIError(.forbidden, reason)
        }
        if let refusal = Self.accessRefusal(head, uri: uri, declared: declared, access: access) {
            return refusal
        }
        guard uri.path == LiveController.path else { return nil }
        do {
            _ = try LiveRequest(uri: uri)
        } catch {
            return error
        }
        guard hub.admitsConnection() else {
            return APIError(.serviceUnavailable, "too many live connections (at most \(hub.configuration.maxConnections)); try again later")
        }
        return nil
    }

    /// Why an upgrade may not have the access its route declared: the token it
    /// carries, in `Authorization` or as `?token=`, against the route's scope.
    static func accessRefusal(_ head: HTTPRequestHead, uri: URI, declared: RouteAccess, access: AccessControl) -> APIError? {
        guard case let .scope(scope) = declared else { return nil }
        // Read as every other parameter is (`QueryParameters`): a page's
        // `URLSearchParams` writes a token's `+` and `=` as %2B and %3D.
        let queryToken: String?
        do {
            queryToken = try QueryParameters(uri.query).value("token")
        } catch {
            return error
        }
        return access.refusal(scope: scope, path: uri.path, authorization: head.headers.first(name: "authorization"), queryToken: queryToken)
    }

    private func respond(_ error: APIError, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: #"{"error":"# + Self.jsonString(error.message) + "}")
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        headers.add(name: "connection", value: "close")
        for field in error.headers { headers.add(name: field.name.rawName, value: field.value) }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: Int(error.status.code)), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in context.close(promise: nil) }
    }

    private static func jsonString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
