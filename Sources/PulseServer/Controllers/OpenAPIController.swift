import Hummingbird
import NIOCore

/// `GET /openapi.json`: the API's OpenAPI 3.1 document (`OpenAPIDocument`).
struct OpenAPIController<Context: RequestContext> {
    func addRoutes(to router: some RouterMethods<Context>) {
        let body = ByteBuffer(bytes: OpenAPIDocument.bytes)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        }
    }
}
