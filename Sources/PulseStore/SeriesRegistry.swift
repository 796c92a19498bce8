import PulseCore
import Synchronization

/// The series the store knows, readable from any thread: ingest checks
/// cardinality against it before a request is queued. The writer adds series
/// once their rows are committed.
final class SeriesRegistry: Sendable {
    private let keys = Mutex<Set<SeriesKey>>([])

    var count: Int { keys.withLock { $0.count } }

    func add(_ new: some Sequence<SeriesKey>) {
        keys.withLock { $0.formUnion(new) }
    }

    /// How many of `candidates` the store does not know yet.
    func unknownCount(in candidates: Set<SeriesKey>) -> Int {
        keys.withLock { known in candidates.reduce(0) { $0 + (known.contains($1) ? 0 : 1) } }
    }
}
