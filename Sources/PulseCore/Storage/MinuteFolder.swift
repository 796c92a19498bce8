/// Folds raw samples, given in ascending ts order, into per-minute rollups,
/// handing each minute on once it is complete: how a store computes rollups
/// from raw rows, whichever database the rows come from.
public struct MinuteFolder {
    private var current: (minute: Int64, rollup: MinuteRollup)?
    private let body: (_ minute: Int64, MinuteRollup) -> Void

    public init(_ body: @escaping (_ minute: Int64, MinuteRollup) -> Void) {
        self.body = body
    }

    public mutating func add(timestamp: Int64, value: Double) {
        let minute = MinuteRollup.minute(of: timestamp)
        if current?.minute == minute {
            current!.rollup.add(timestamp: timestamp, value: value)
        } else {
            if let done = current { body(done.minute, done.rollup) }
            current = (minute, MinuteRollup(timestamp: timestamp, value: value))
        }
    }

    /// Hands on the last minute; call once, after the last sample.
    public mutating func finish() {
        if let done = current { body(done.minute, done.rollup) }
        current = nil
    }
}
