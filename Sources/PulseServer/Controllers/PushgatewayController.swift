import Foundation
import HTTPTypes
import Hummingbird
import PulseCore

/// The Pushgateway API: `PUT`, `POST` and `DELETE` under
/// `/metrics/job/<job>{/<label>/<value>}`, as Pushgateway 1.x answers them,
/// and `GET /api/v1/push-groups`, what Pushgateway does not have.
///
/// - `PUT` replaces the group with what was pushed, `POST` replaces the
///   pushed families within it; both answer 200 once the samples are
///   committed, and the group's `/metrics` exposition changes then.
/// - `DELETE` removes the group from `/metrics` and answers 202, whether
///   there was one or not, as Pushgateway does; its history stays.
/// - A push that fails sets the group's `push_failure_time_seconds` (making
///   the group if it did not exist) and keeps what it had.
/// - Bodies are the protobuf delimited format when the `Content-Type` says so
///   (client_golang's pushes), else the Prometheus text format, whatever the
///   `Content-Type` says (so that `curl --data-binary` works), as Pushgateway reads them.
/// - `Pulsegate-Group-TTL: <duration>` on a push sets when the group expires
///   (`0`: never), overriding `--push-group-ttl`.
struct PushgatewayController<Context: RequestContext> {
    static var pathPrefix: String { "/metrics/" }
    let pipeline: Pipeline
    let groups: PushGroups
    let limits: IngestLimits
    let metrics: IngestMetrics

    func addRoutes(to router: some RouterMethods<Context>) {
        // The job's name may come base64url-encoded too, as any grouping label's value.
        for path in ["/metrics/job/**", "/metrics/job@base64/**"] {
            router.put(RouterPath(path)) { request, _ in try await push(request, .replaceGroup) }
            router.post(RouterPath(path)) { request, _ in try await push(request, .replaceFamilies) }
            router.delete(RouterPath(path)) { request, _ in try delete(request) }
        }
    }

    /// The listing, for the read scope.
    func addListing(to router: some RouterMethods<Context>) {
        router.get("/api/v1/push-groups") { _, _ in list() }
    }

    private func intake(for key: GroupingKey) -> PushIntake {
        PushIntake(
            pipeline: pipeline, parsers: IngestParsers([PushgatewayProtobufParser(group: key), PushgatewayTextParser(group: key)]),
            limits: limits, metrics: metrics, source: .pushgateway
        )
    }

    private func push(_ request: Request, _ change: PushGroups.Change) async throws -> Response {
        let key = try groupingKey(request)
        let intake = intake(for: key)
        guard groups.admits(key) else {
            throw intake.reject(.seriesLimit, APIError(.badRequest, "there are \(groups.maxGroups) push groups already: delete some, or push to one of them (the bound is --max-series)"))
        }
        let batch: ValidatedBatch
        do {
            let ttl = try ttl(request)
            // The protobuf delimited format when the request says so, the text format whatever else it says, as Pushgateway reads them.
            let parser = intake.parsers.parser(forContentType: request.headers[.contentType]) ?? PushgatewayTextParser(group: key)
            batch = try intake.parse(try await intake.body(of: request), with: parser)
            if let conflict = groups.conflict(batch.families, in: key) {
                throw intake.reject(.inconsistentFamily, APIError(.badRequest, "pushed metrics are inconsistent with existing metrics: \(conflict)"))
            }
            _ = try await intake.accept(batch)
            groups.push(batch.families, to: key, change, ttl: ttl)
        } catch {
            groups.failed(key)
            throw error
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"accepted":\#(batch.count)}"#)))
    }

    private func delete(_ request: Request) throws -> Response {
        groups.delete(try groupingKey(request))
        return Response(status: .accepted)
    }

    /// The group the path names, or a 400 that says what is wrong with it.
    private func groupingKey(_ request: Request) throws -> GroupingKey {
        let path = request.uri.path.dropFirst(Self.pathPrefix.count)
        do {
            return try GroupingKey(path: path)
        } catch {
            metrics.rejected(.badGroupingKey)
            throw APIError(.badRequest, "bad grouping key: \(error)")
        }
    }

    /// The push's own TTL, if it gives one.
    private func ttl(_ request: Request) throws -> Duration? {
        guard let text = request.headers[.groupTTL] else { return nil }
        guard let ttl = DurationText.duration(text.trimmingCharacters(in: .whitespaces)) else {
            metrics.rejected(.badTTL)
            throw APIError(.badRequest, "Pulsegate-Group-TTL must be a duration such as 90s, 15m or 1h (0: never expires)")
        }
        return ttl
    }

    private func list() -> Response {
        let listing = PushGroupListing(groups: groups.list().map(PushGroupListing.Group.init))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(listing)) ?? Data(#"{"groups":[]}"#.utf8)
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// `GET /api/v1/push-groups`: every group with its labels, families, last
/// push and failure, and when it expires (ms since the Unix epoch; null when
/// it has not happened, or never will).
struct PushGroupListing: Encodable {
    struct Group: Encodable {
        let labels: [String: String]
        let families: [String]
        let lastPushMs: Int64?
        let lastFailureMs: Int64?
        let expiresAtMs: Int64?

        enum CodingKeys: String, CodingKey {
            case labels, families
            case lastPushMs = "last_push_ms"
            case lastFailureMs = "last_failure_ms"
            case expiresAtMs = "expires_at_ms"
        }

        init(_ group: PushGroup) {
            labels = Dictionary(uniqueKeysWithValues: group.key.labels.map { ($0.name, $0.value) })
            families = group.families.keys.sorted()
            lastPushMs = group.lastPush
            lastFailureMs = group.lastFailure
            expiresAtMs = group.expiresAt
        }

        func encode(to encoder: any Encoder) throws {
            // Nulls written out, so that a reader sees every field of every group.
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(labels, forKey: .labels)
            try container.encode(families, forKey: .families)
            try container.encode(lastPushMs, forKey: .lastPushMs)
            try container.encode(lastFailureMs, forKey: .lastFailureMs)
            try container.encode(expiresAtMs, forKey: .expiresAtMs)
        }
    }

    let groups: [Group]
}

extension HTTPField.Name {
    /// A push's own expiry for its group (`PushGroups`).
    static let groupTTL = HTTPField.Name("Pulsegate-Group-TTL")!
}
