/// One group of the Pushgateway API: what was last pushed under a grouping
/// key, and when. `PushGroups` holds them.
public struct PushGroup: Sendable {
    public let key: GroupingKey
    /// By name.
    public internal(set) var families: [String: PushedFamily] = [:]
    /// When a push last changed the group (ms); nil when none has yet (a group
    /// made by a failed push), which `push_time_seconds` shows as 0.
    public internal(set) var lastPush: Int64?
    /// When a push to it last failed (ms); `push_failure_time_seconds`, 0 when none has.
    public internal(set) var lastFailure: Int64?
    /// When it goes (ms); nil when it stays until deleted, as Pushgateway's groups do.
    public internal(set) var expiresAt: Int64?

    init(key: GroupingKey) {
        self.key = key
    }

    /// The labels every metric of the group is exposed with besides its own:
    /// the grouping key's, and `instance=""` unless the key has an instance.
    var exposedLabels: [Label] { key.exposing([]) }

    /// `push_time_seconds` and `push_failure_time_seconds`, as Pushgateway exposes them for every group.
    var ownFamilies: [PushedFamily] {
        let labels = exposedLabels
        func seconds(_ milliseconds: Int64?) -> PushedMetric {
            PushedMetric(labels: labels, value: .single(milliseconds.map { Double($0) / 1000 } ?? 0))
        }
        return [
            PushedFamily(name: "push_failure_time_seconds", type: .gauge, help: "Last Unix time when changing this group in the Pushgateway failed.", metrics: [seconds(lastFailure)]),
            PushedFamily(name: "push_time_seconds", type: .gauge, help: "Last Unix time when changing this group in the Pushgateway succeeded.", metrics: [seconds(lastPush)]),
        ]
    }
}
