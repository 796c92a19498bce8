/// The formats `POST /ingest` accepts, chosen by media type.
public struct IngestParsers: Sendable {
    public let parsers: [any IngestParser]

    public init(_ parsers: [any IngestParser]) {
        self.parsers = parsers
    }

    /// JSON (`application/json`) and the Prometheus text format (`text/plain`).
    public static let standard = IngestParsers([JSONIngestParser(), PrometheusTextParser()])

    /// The parser for a `Content-Type` value: its media type is what comes before
    /// any parameter (`; version=0.0.4`, `; charset=utf-8`), in any case.
    public func parser(forContentType contentType: String?) -> (any IngestParser)? {
        let mediaType = Self.mediaType(of: contentType ?? "")
        return parsers.first { $0.mediaTypes.contains(mediaType) }
    }

    /// `Text/Plain ; version=0.0.4` → `text/plain`.
    public static func mediaType(of contentType: String) -> String {
        let type = contentType.prefix { $0 != ";" }
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        return String(type.drop(while: isSpace).reversed().drop(while: isSpace).reversed()).lowercased()
    }
}
