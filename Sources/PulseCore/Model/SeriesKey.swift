/// What identifies a series: a metric name and its labels, sorted by name.
///
/// Two keys with the same labels in a different order are equal, because the
/// initialiser sorts them. The canonical text form is Prometheus's
/// (`metric{a="1",b="2"}`), used in logs, errors and as a stable sort key.
///
/// The hash is computed once, when the key is made: the store's writer looks
/// every sample's key up in its series table, and hashing five strings per
/// sample would cost a fifth of a raw insert.
public struct SeriesKey: Hashable, Sendable {
    public let metric: String
    /// Sorted by name. Names are unique once the key has been validated.
    public let labels: [Label]
    private let hash: Int

    public init(metric: String, labels: [Label] = []) {
        self.metric = metric
        // Most senders sort their labels already (remote_write must): then no copy.
        let sorted = labels.indices.dropFirst().allSatisfy { labels[$0 - 1].name <= labels[$0].name }
        self.labels = sorted ? labels : labels.sorted { $0.name < $1.name }
        var hasher = Hasher()
        hasher.combine(metric)
        hasher.combine(self.labels)
        self.hash = hasher.finalize()
    }

    public static func == (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
        lhs.hash == rhs.hash && lhs.metric == rhs.metric && lhs.labels == rhs.labels
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(hash)
    }

    public init(metric: String, labels: [String: String]) {
        self.init(metric: metric, labels: labels.map { Label($0.key, $0.value) })
    }

    /// The value of the label `name`, if the key has it.
    public subscript(label name: String) -> String? {
        labels.first { $0.name == name }?.value
    }

    /// `metric{a="1",b="2"}`, with label values escaped as in the Prometheus text format.
    public var canonicalText: String {
        metric + LabelText.encode(labels)
    }

    /// The labels as a JSON object with sorted keys: the form the store keeps,
    /// so that one label set always has one spelling.
    public var labelsJSON: String {
        LabelJSON.encode(labels)
    }
}

extension SeriesKey: CustomStringConvertible {
    public var description: String { canonicalText }
}

extension SeriesKey: Comparable {
    public static func < (lhs: SeriesKey, rhs: SeriesKey) -> Bool {
        if lhs.metric != rhs.metric { return lhs.metric < rhs.metric }
        return lhs.labels.lexicographicallyPrecedes(rhs.labels) {
            $0.name != $1.name ? $0.name < $1.name : $0.value < $1.value
        }
    }
}
