import Foundation
import Hummingbird
import PulseCore

/// A refused push as a 400: `{"error": "...", "problems": [{"index", "field", "reason"}]}`.
struct IngestError: HTTPResponseError {
    let rejection: IngestRejection
    init(_ rejection: IngestRejection) { self.rejection = rejection }

    /// Problems listed at most: enough to fix a request, bounded for a hostile one.
    static let maxProblems = 1_000

    var status: HTTPResponse.Status { .badRequest }

    private struct Body: Encodable {
        struct Problem: Encodable {
            let index: Int?
            let field: String
            let reason: String
        }
        let error: String
        let problems: [Problem]
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = Body(
            error: rejection.message,
            problems: rejection.problems.prefix(Self.maxProblems).map { Body.Problem(index: $0.index, field: $0.field, reason: $0.reason) }
        )
        let data = try JSONEncoder().encode(body)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
