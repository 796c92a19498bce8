import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// Every error the API answers: a status and `{"error": "..."}` that says what to change,
/// with the header fields the status calls for (`Allow` for a 405).
struct APIError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    let headers: HTTPFields
    /// Which bound refused the request, for the endpoint's rejection counter; nil for plain bad input.
    let bound: String?

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], bound: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.bound = bound
    }

    var description: String { "\(status.code) \(message)" }

    private struct Body: Encodable { let error: String }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes  // URLs in messages stay readable
        let data = try encoder.encode(Body(error: message))
        var headers = headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(
            status: status,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
