#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Time as the model counts it: integer milliseconds since the Unix epoch.
public enum Timestamp {
    /// The earliest timestamp a sample may carry (the epoch): buckets are
    /// computed with integer division, which must not see negative numbers.
    public static let earliest: Int64 = 0
    /// The latest timestamp a sample may carry: 9999-12-31T23:59:59.999Z.
    public static let latest: Int64 = 253_402_300_799_999

    /// The wall clock now, in milliseconds since the epoch.
    public static func now() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}
