import PulseCore
@testable import PulseStore
import PulseTestSupport
import Testing

/// The chunk codec: every sample back bit for bit, the size the encoding
/// promises on regular data, and damaged bytes refused with an error.
@Suite struct XORChunkTests {
    typealias Samples = [(timestamp: Int64, value: Double)]

    func roundTrip(_ samples: Samples, _ what: String) throws {
        let decoded = try XORChunk.decode(XORChunk.encode(samples))
        #expect(decoded.count == samples.count, "\(what)")
        for (expected, found) in zip(samples, decoded) {
            #expect(expected.timestamp == found.timestamp && expected.value.bitPattern == found.value.bitPattern, "\(what): \(expected) became \(found)")
        }
    }

    @Test func valuesComeBackBitForBit() throws {
        var random = SplitMix64(seed: 17)
        let start: Int64 = 1_764_470_000_000
        let times = (0..<300).map { start + Int64($0) * 1_000 }
        let special: [Double] = [0, -0.0, 1, -1, .nan, -.nan, Double(bitPattern: 0x7ff0_0000_0000_0002), .infinity, -.infinity,
                                 .leastNonzeroMagnitude, -.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, 1e-300, 1e300, .pi]
        let constant = [Double](repeating: 42, count: 300)
        let counter = (0..<300).map { (index: Int) -> Double in Double(index * 37 + index * index) }
        let integers = (0..<300).map { (_: Int) -> Double in Double(random.next() % 1_000) }
        let noisy = (0..<300).map { (_: Int) -> Double in Double(bitPattern: random.next() >> 12 | 0x3ff0_0000_0000_0000) - 1 }
        let anyBits = (0..<300).map { (_: Int) -> Double in Double(bitPattern: random.next()) }
        let specials = (0..<300).map { (index: Int) -> Double in special[index % special.count] }
        let ratios = (0..<300).map { (_: Int) -> Double in Double(random.next() % 10_000) / 9_973 }
        let extremes = (0..<300).map { (index: Int) -> Double in index % 2 == 0 ? 1e308 / Double(index + 1) : 1e-308 * Double(index + 1) }
        let cases: [(String, [Double])] = [
            ("constant", constant), ("a counter", counter), ("integer gauge", integers), ("noisy floats", noisy),
            ("any bits", anyBits), ("special values", specials), ("ratios", ratios), ("huge and tiny", extremes),
        ]
        for (what, values) in cases {
            try roundTrip(Array(zip(times, values)), what)
        }
    }

    /// Each delta-of-delta class at its edges, the jumps between, and timestamps at the store's ends.
    @Test func timestampsAtEveryClassBoundary() throws {
        // Deltas of deltas at each class's edges and just past them (each group sums to 0,
        // so that the delta, 10 s, stays positive), and one that needs 64 bits.
        var dods: [Int64] = [0, 0]
        for bits in XORChunk.timestampClasses.classes {
            let edge = Int64(1) << (bits - 1)
            dods += [edge - 1, -(edge - 1), -edge, edge, edge, -edge, -edge - 1, edge + 1]
        }
        dods += [1 << 40, -(1 << 40), 0]
        var timestamp: Int64 = -5_000_000
        var delta: Int64 = 10_000_000  // more than the largest class's edge
        var samples: Samples = [(timestamp, 1)]
        for dod in dods {
            delta += dod
            timestamp += delta
            samples.append((timestamp, Double(samples.count)))
        }
        try roundTrip(samples, "class boundaries")
        try roundTrip([(Timestamp.earliest, 1), (Timestamp.earliest + 1, 2), (Timestamp.latest - 1, 3), (Timestamp.latest, 4)], "the store's ends")
        try roundTrip([], "no samples")
        try roundTrip([(0, 5)], "one sample")
        try roundTrip([(-1, 5), (0, 6)], "two samples")
        var random = SplitMix64(seed: 3)
        var jittered: Samples = []
        var at: Int64 = 1_764_470_000_000
        for index in 0..<2_000 {
            at += 1 + Int64(random.next() % 3_000)
            jittered.append((at, Double(index)))
        }
        try roundTrip(jittered, "jittered")
    }

    /// What the encoding promises: about two bits a sample for a regular
    /// series of one value, a few bytes for a counter.
    @Test func regularDataIsSmall() {
        let start: Int64 = 1_764_470_000_000
        let constant = XORChunk.encode((0..<120).map { (start + Int64($0) * 1_000, 7.0) })
        #expect(constant.count <= 4 + 2 + 8 + 8 + 2 + 120 * 2 / 8 + 1, "\(constant.count) bytes")
        // Ticks a few ms off their second, as every scrape's and collector's are: the 5-bit class.
        var random = SplitMix64(seed: 5)
        let jittered = XORChunk.encode((0..<600).map { (index: Int) -> (timestamp: Int64, value: Double) in
            (start + Int64(index) * 1_000 + Int64(random.next() % 5), 7)
        })
        #expect(jittered.count <= 4 + 2 + 8 + 8 + 2 + 600, "\(jittered.count) bytes: at most a byte a sample")
        let counter = XORChunk.encode((0..<120).map { (start + Int64($0) * 1_000, Double(1_000 + $0 * 3)) })
        #expect(Double(counter.count) / 120 < 3, "\(counter.count) bytes for 120 counter samples")
    }

    /// Whole numbers: their deltas (or deltas of deltas) at every class's edges,
    /// scaled by a common divisor, the largest a Double holds exactly, and -0,
    /// which sends its chunk back to XOR.
    @Test func wholeNumbersComeBackExactly() throws {
        let start: Int64 = 1_764_470_000_000
        var steps: [Int64] = [0, 1, -1]
        for bits in XORChunk.integerClasses.classes {
            let edge = Int64(1) << (bits - 1)
            steps += [edge - 1, -edge, edge, -edge - 1]
        }
        var level: Int64 = 0
        let values = steps.map { (step: Int64) -> Double in level += step; return Double(level) }
        for scale in [1.0, 4_096.0, -3.0] {
            try roundTrip(values.enumerated().map { (start + Int64($0.offset) * 1_000, $0.element * scale) }, "steps × \(scale)")
        }
        try roundTrip([(start, 0x1p53), (start + 1, -0x1p53), (start + 2, 0x1p53), (start + 3, 0)], "the largest whole numbers")
        try roundTrip([(start, 0x1p53 + 2), (start + 1, 1)], "beyond 2^53: XOR")
        try roundTrip([(start, 5), (start + 1, -0.0), (start + 2, 7)], "-0 among whole numbers")
        // Memory in pages: the divisor makes each change a few bits.
        var random = SplitMix64(seed: 8)
        var bytes = 24_000_000_000.0
        let memory = XORChunk.encode((0..<600).map { (index: Int) -> (timestamp: Int64, value: Double) in
            bytes += Double(Int(random.next() % 64) - 32) * 4_096
            return (start + Int64(index) * 1_000, bytes)
        })
        #expect(memory.count <= 900, "\(memory.count) bytes for 600 changes of up to 32 pages: 1.5 bytes a sample at most")
    }

    @Test func damagedBytesAreAnErrorNeverWrongNumbers() throws {
        let samples: Samples = (0..<100).map { (index: Int) -> (timestamp: Int64, value: Double) in
            (1_764_470_000_000 + Int64(index) * 1_000 + Int64(index % 7), Double(index) * 1.5)
        }
        let chunk = XORChunk.encode(samples)
        // Every single bit flipped: CRC-32 catches each one.
        for bit in 0..<(chunk.count * 8) {
            var damaged = chunk
            damaged[bit / 8] ^= 1 << UInt8(bit % 8)
            #expect(throws: ChunkError.self, "bit \(bit)") { try XORChunk.decode(damaged) }
        }
        for length in 0..<chunk.count {
            #expect(throws: ChunkError.self, "cut to \(length) bytes") { try XORChunk.decode(Array(chunk.prefix(length))) }
        }
        // Arbitrary bytes with a valid checksum: an error or samples, never a trap.
        var random = SplitMix64(seed: 99)
        var refused = 0
        for _ in 0..<20_000 {
            var bytes = (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            let crc = XORChunk.crc(bytes)
            bytes += [UInt8(truncatingIfNeeded: crc >> 24), UInt8(truncatingIfNeeded: crc >> 16), UInt8(truncatingIfNeeded: crc >> 8), UInt8(truncatingIfNeeded: crc)]
            do { _ = try XORChunk.decode(bytes) } catch { refused += 1 }
        }
        #expect(refused > 10_000, "most arbitrary payloads are not chunks: \(refused)")
        #expect(try XORChunk.decode(chunk).count == 100)
    }
}
