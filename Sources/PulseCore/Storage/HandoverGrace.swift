/// How long before a sample reaches a store's queue its source may have stamped
/// it, at most: the collector reads /proc between taking the time and handing
/// the readings over. `complete_until` stays this far behind the clock, so that
/// no such sample lands below it later.
public enum HandoverGrace {
    public static let milliseconds: Int64 = 2_000
}
