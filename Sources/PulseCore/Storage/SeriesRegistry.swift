import Synchronization

/// The series a store knows, readable from any thread: ingest checks
/// cardinality against it before a request is queued. A store's writer adds
/// series once their rows are committed.
public final class SeriesRegistry: Sendable {
    private let keys = Mutex<Set<SeriesKey>>([])

    public init() {}

    public var count: Int { keys.withLock { $0.count } }

    public func add(_ new: some Sequence<SeriesKey>) {
        keys.withLock { $0.formUnion(new) }
    }

    /// How many of `candidates` the store does not know yet.
    public func unknownCount(in candidates: Set<SeriesKey>) -> Int {
        keys.withLock { known in candidates.reduce(0) { $0 + (known.contains($1) ? 0 : 1) } }
    }
}
