import DequeModule
import PulseCore

/// The most recent published batches, for clients that resume.
///
/// Bounded by samples, evicting whole batches, oldest first. It remembers the
/// latest sample ts it has evicted: every sample published with a later ts is
/// still here, which is what `complete_from_ts` promises a resuming client.
struct ReplayRing {
    struct Entry {
        let seq: UInt64
        let serverTime: Double
        let samples: [Sample]
    }

    private(set) var entries: Deque<Entry> = []
    private(set) var completeFromTimestamp: Int64
    private var sampleCount = 0
    private let capacity: Int

    /// `start` (ms): samples before the hub started are only in the history.
    init(capacity: Int, start: Int64) {
        self.capacity = max(1, capacity)
        self.completeFromTimestamp = start
    }

    mutating func append(_ entry: Entry) {
        entries.append(entry)
        sampleCount += entry.samples.count
        while sampleCount > capacity, entries.count > 1, let oldest = entries.popFirst() {
            sampleCount -= oldest.samples.count
            if let latest = oldest.samples.lazy.map(\.timestamp).max() {
                completeFromTimestamp = max(completeFromTimestamp, latest)
            }
        }
    }

    func coverage(headSeq: UInt64) -> RingCoverage {
        RingCoverage(
            oldestSeq: entries.first?.seq ?? headSeq + 1,
            newestSeq: entries.last?.seq ?? headSeq,
            completeFromTimestamp: completeFromTimestamp
        )
    }
}
