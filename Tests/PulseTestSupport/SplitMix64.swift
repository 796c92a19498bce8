import Foundation

/// A small, fast, seeded generator (Steele, Lea and Flood's SplitMix64), so
/// that a failing randomized case can be replayed from its seed.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// `count` random bytes.
    public mutating func bytes(count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8(truncatingIfNeeded: next()) }
    }

    /// A value with a fractional part, of varied magnitude and sign.
    public mutating func value() -> Double {
        Double(Int64(bitPattern: next()) % 1_000_000) / 997 * pow(10, Double(next() % 7) - 3)
    }
}
