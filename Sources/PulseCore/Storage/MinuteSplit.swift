/// How a downsampled query with a whole-minute step splits its range: the
/// minutes lying wholly inside it come from the stored per-minute rollups, the
/// partial minutes at its edges are folded from raw rows. Every store that keeps
/// rollups uses this one split, so their answers agree to the bit.
public struct MinuteSplit: Equatable, Sendable {
    /// Raw rows before the first whole minute (`from...firstWhole - 1`), if any.
    public let leadingRaw: ClosedRange<Int64>?
    /// The start of the first and of the last whole minute, if any lies inside.
    public let wholeMinutes: ClosedRange<Int64>?
    /// Raw rows after the last whole minute (`endWhole...to`), if any.
    public let trailingRaw: ClosedRange<Int64>?

    /// The split of `from...to` (inclusive, ms, never negative).
    public init(from: Int64, to: Int64) {
        let resolution = MinuteRollup.resolution
        // Whole minutes are those starting in [firstWhole, endWhole).
        let firstWhole = from <= 0 ? 0 : MinuteRollup.minute(of: from - 1) + resolution
        let endWhole = to < 0 ? 0 : MinuteRollup.minute(of: to == .max ? to : to + 1)
        guard firstWhole < endWhole else {
            leadingRaw = from <= to ? from...to : nil
            wholeMinutes = nil
            trailingRaw = nil
            return
        }
        leadingRaw = from < firstWhole ? from...(firstWhole - 1) : nil
        wholeMinutes = firstWhole...(endWhole - resolution)
        trailingRaw = endWhole <= to ? endWhole...to : nil
    }
}
