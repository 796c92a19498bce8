import Synchronization

/// The groups of the Pushgateway API, exposed at `/metrics` exactly as
/// Pushgateway 1.x exposes them: every family of every group under its name
/// (sorted), its metrics in client_golang's order, each with the group's
/// labels, and each group's `push_time_seconds` and
/// `push_failure_time_seconds`.
///
/// Beyond Pushgateway, a group may expire: `ttl` after its last successful
/// push (the push's own TTL, else `defaultTTL`; zero is never), it leaves
/// `/metrics` and is counted. Its samples stay in the history: the store got
/// them when they were pushed.
///
/// Groups live in memory, as Pushgateway's do without `--persistence.file`.
public final class PushGroups: Sendable {
    /// How a push changes its group.
    public enum Change: Sendable {
        /// `PUT`: the group becomes what was pushed.
        case replaceGroup
        /// `POST`: the pushed families replace those of the same name; the others stay.
        case replaceFamilies
    }

    /// Zero: groups never expire unless a push says otherwise.
    public let defaultTTL: Duration
    /// At most this many groups: a push (or a failed one) to another group is
    /// refused beyond it, so that no stream of pushes holds unbounded memory.
    public let maxGroups: Int
    private let groups = Mutex<[GroupingKey: PushGroup]>([:])
    private let clock: @Sendable () -> Int64
    private let expired: @Sendable (Int) -> Void

    /// `expired` is told how many groups expired, each time some do.
    public init(
        defaultTTL: Duration = .zero, maxGroups: Int = 10_000, clock: @escaping @Sendable () -> Int64 = { Timestamp.now() },
        expired: @escaping @Sendable (Int) -> Void = { _ in }
    ) {
        self.defaultTTL = defaultTTL
        self.maxGroups = maxGroups
        self.clock = clock
        self.expired = expired
    }

    /// Whether a push to `key` may change it: it exists, or there is room for one more group.
    public func admits(_ key: GroupingKey) -> Bool {
        withGroups { $0[key] != nil || $0.count < maxGroups }
    }

    /// Why `families`, pushed to `key`, cannot be exposed beside the other
    /// groups' families of the same names (another type), if they cannot.
    public func conflict(_ families: [PushedFamily], in key: GroupingKey) -> String? {
        withGroups { groups in
            for family in families {
                for (otherKey, other) in groups where otherKey != key {
                    if let theirs = other.families[family.name], theirs.type != family.type {
                        return "\(family.name) is a \(family.type.textFormatName) here but a \(theirs.type.textFormatName) in group {\(otherKey)}: push it with one type everywhere"
                    }
                }
            }
            return nil
        }
    }

    /// Records a successful push (the families were stored); `ttl` is the
    /// push's own, else the default applies.
    public func push(_ families: [PushedFamily], to key: GroupingKey, _ change: Change, ttl: Duration? = nil) {
        let now = clock()
        let ttl = ttl ?? defaultTTL
        withGroups { groups in
            var group = groups[key] ?? PushGroup(key: key)
            if case .replaceGroup = change { group.families = [:] }
            for family in families { group.families[family.name] = family }
            group.lastPush = now
            group.expiresAt = ttl > .zero ? now + ttl.milliseconds : nil
            groups[key] = group
        }
    }

    /// Records a failed push: a group that did not exist appears, with no
    /// metrics, while there is room for it.
    public func failed(_ key: GroupingKey) {
        let now = clock()
        withGroups { groups in
            guard groups[key] != nil || groups.count < maxGroups else { return }
            var group = groups[key] ?? PushGroup(key: key)
            if groups[key] == nil, defaultTTL > .zero { group.expiresAt = now + defaultTTL.milliseconds }
            group.lastFailure = now
            groups[key] = group
        }
    }

    /// Removes a group; whether there was one.
    @discardableResult
    public func delete(_ key: GroupingKey) -> Bool {
        withGroups { $0.removeValue(forKey: key) != nil }
    }

    /// The live groups, sorted by their labels.
    public func list() -> [PushGroup] {
        withGroups { groups in
            groups.values.map { ($0.exposedLabels, $0) }.sorted { Self.precedes($0.0, $1.0) }.map(\.1)
        }
    }

    /// Every family of every live group, with the groups' own, each as its text.
    public func exposition() -> [ExposedFamily] {
        // Groups in their order, so that where helps differ the first group's is the one shown.
        let all = list().flatMap { group in group.families.keys.sorted().map { group.families[$0]! } + group.ownFamilies }
        var byName: [String: [PushedFamily]] = [:]
        for family in all { byName[family.name, default: []].append(family) }
        return byName.keys.sorted().map { name in
            let families = byName[name]!
            // Types agree (`conflict`); helps may not, and Pushgateway shows one of them.
            let first = families[0]
            let metrics = families.flatMap(\.metrics).sorted { Self.precedes($0.labels, $1.labels) }
            var lines: [UInt8] = []
            for metric in metrics { Self.append(metric, of: name, to: &lines) }
            var header = ""
            if let help = first.help { header += "# HELP \(name) \(LatestValues.escapedHelp(help))\n" }
            header += "# TYPE \(name) \(first.type.textFormatName)\n"
            return ExposedFamily(name: name, header: Array(header.utf8), lines: lines)
        }
    }

    /// The series the groups' samples were stored under: in cluster mode the
    /// cluster's stream brings them back to this node's `LatestValues`, which
    /// must leave them to the groups.
    public func heldSeries() -> Set<SeriesKey> {
        var keys: Set<SeriesKey> = []
        for group in withGroups({ Array($0.values) }) {  // any order: no sort
            for family in group.families.values {
                for metric in family.metrics {
                    for sample in PushgatewayText.samples(of: metric, in: family, at: 0) { keys.insert(sample.key) }
                }
            }
        }
        return keys
    }

    /// How many groups there are, the expired ones gone.
    public var count: Int { withGroups { $0.count } }

    /// Runs `body` on the groups, once the expired ones are gone.
    private func withGroups<T>(_ body: (inout [GroupingKey: PushGroup]) -> T) -> T {
        let now = clock()
        let (result, gone) = groups.withLock { groups in
            let before = groups.count
            groups = groups.filter { $0.value.expiresAt.map { $0 > now } ?? true }
            let gone = before - groups.count
            return (body(&groups), gone)
        }
        if gone > 0 { expired(gone) }
        return result
    }

    /// client_golang's order of a family's metrics: fewer labels first, then by
    /// the labels' values in the order of their (sorted) names.
    static func precedes(_ lhs: [Label], _ rhs: [Label]) -> Bool {
        guard lhs.count == rhs.count else { return lhs.count < rhs.count }
        for (left, right) in zip(lhs, rhs) where left.value != right.value {
            return left.value < right.value
        }
        return false
    }

    /// A metric's lines, as client_golang's text encoder writes them: a
    /// summary's quantiles then `_sum` and `_count`, a histogram's buckets
    /// (with `+Inf` added when it was not pushed) then `_sum` and `_count`;
    /// counts as whole numbers.
    static func append(_ metric: PushedMetric, of name: String, to text: inout [UInt8]) {
        func line(_ suffix: String, _ value: String, _ extra: Label? = nil) {
            text += (name + suffix).utf8
            text += LabelText.encode(extra.map { metric.labels + [$0] } ?? metric.labels).utf8
            text.append(UInt8(ascii: " "))
            text += value.utf8
            text.append(10)
        }
        switch metric.value {
        case let .single(value):
            line("", GoFloatText.format(value))
        case let .summary(quantiles, sum, count):
            for quantile in quantiles { line("", GoFloatText.format(quantile.value), Label("quantile", GoFloatText.format(quantile.bound))) }
            line("_sum", GoFloatText.format(sum))
            line("_count", wholeNumber(count))
        case let .histogram(buckets, sum, count):
            for bucket in buckets { line("_bucket", wholeNumber(bucket.value), Label("le", GoFloatText.format(bucket.bound))) }
            if !buckets.contains(where: { $0.bound == .infinity }) { line("_bucket", wholeNumber(count), Label("le", "+Inf")) }
            line("_sum", GoFloatText.format(sum))
            line("_count", wholeNumber(count))
        }
    }

    /// A count (a non-negative whole number) as an unsigned integer, as the Go encoder writes one.
    static func wholeNumber(_ value: Double) -> String {
        value < 0x1p64 ? String(UInt64(value)) : String(UInt64.max)
    }
}

/// One family of `/metrics`, ready to write: its `# HELP`/`# TYPE` lines and
/// its sample lines apart, so that a writer that has more series of the same
/// family can put them under one header.
public struct ExposedFamily: Sendable {
    public var name: String
    public var header: [UInt8]
    public var lines: [UInt8]
}
