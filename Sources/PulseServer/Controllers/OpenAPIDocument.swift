/// The OpenAPI 3.1 document of the HTTP API, served at `GET /openapi.json`:
/// `Resources/openapi.json` in this module, embedded in the binary at build time
/// (SwiftPM's `embedInCode`), so that Pulsegate stays one self-contained
/// executable with no resource bundle to carry beside it.
///
/// It says what the server really does, status by status: `scripts/api-check`
/// (run by `scripts/test`) starts a `pulsegate` and has schemathesis check every
/// answer against it, and `ConfigurationDocumentationTests` checks its limits
/// and enums against the code. Change it together with the controllers it describes.
enum OpenAPIDocument {
    static let bytes: [UInt8] = PackageResources.openapi_json
}
