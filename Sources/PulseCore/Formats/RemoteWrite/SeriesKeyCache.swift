import Synchronization

/// The keys of series a remote_write sender has sent before, by the bytes of
/// their labels as sent. A Prometheus sends the same label sets in request
/// after request; a known one becomes its key without its strings being
/// decoded, its names checked or its key hashed again.
///
/// Only keys that passed the validator are kept, for the limits they passed;
/// other limits empty the cache. Bounded: at `capacity` entries it starts
/// afresh, which costs one decoding of each series still sent.
public final class SeriesKeyCache: Sendable {
    /// Label bytes, hashed once.
    private struct LabelBytes: Hashable {
        let bytes: [UInt8]
        let hash: Int

        init(_ bytes: [UInt8]) {
            self.bytes = bytes
            var hasher = Hasher()
            hasher.combine(bytes: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
            hash = hasher.finalize()
        }

        static func == (lhs: LabelBytes, rhs: LabelBytes) -> Bool { lhs.hash == rhs.hash && lhs.bytes == rhs.bytes }
        func hash(into hasher: inout Hasher) { hasher.combine(hash) }
    }

    private struct State {
        var keys: [LabelBytes: SeriesKey] = [:]
        var limits: SampleLimits?
    }

    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// How many keys it holds.
    public var count: Int { state.withLock { $0.keys.count } }

    /// Readies the cache for keys checked against `limits`: other limits than its keys' empty it.
    func use(_ limits: SampleLimits) {
        state.withLock { state in
            guard state.limits != limits else { return }
            state.keys = [:]
            state.limits = limits
        }
    }

    func key(for labelBytes: UnsafeRawBufferPointer) -> SeriesKey? {
        let bytes = LabelBytes(Array(labelBytes))
        return state.withLock { $0.keys[bytes] }
    }

    /// Keeps a key that passed the validator, under the label bytes it was read from.
    func insert(_ key: SeriesKey, labelBytes: [UInt8]) {
        let bytes = LabelBytes(labelBytes)
        state.withLock { state in
            if state.keys.count >= capacity { state.keys = [:] }
            state.keys[bytes] = key
        }
    }
}
