import PulseCore

/// What tells one batch from another under the same seq: when it was published
/// (to the µs, as frames carry it) and how many samples it has.
struct BatchFingerprint: Equatable {
    let seq: UInt64
    let microseconds: Int64
    let count: Int

    init(_ batch: PublishedBatch) {
        seq = batch.seq
        microseconds = Int64((batch.serverTime * 1_000).rounded())
        count = batch.samples.count
    }
}
