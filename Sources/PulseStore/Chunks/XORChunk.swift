import CZlib

/// One series' samples, compressed as Facebook's Gorilla paper (§4.1) and
/// Prometheus's XOR chunks do: timestamps as deltas of deltas, values as the
/// XOR of each with the one before, both in as few bits as the data allows;
/// and, for a chunk of whole numbers, their differences as integers, which
/// whole-number gauges and counters take in fewer bits than their XORs.
///
/// Layout: a varint sample count and the byte length of the timestamps; the
/// timestamps (the first as a zigzag varint, the second as a varint delta,
/// then each delta of delta in the smallest class that holds it: 0, 5, 14, 20
/// or 64 bits), padded to a byte; the values, after two bits that say how:
/// - XOR: the first value's 64 bits, then each XOR with the last (the same
///   value, one bit; the meaningful bits within the last window; or a new
///   window, 5 bits of leading zeros and 6 of length, then the bits);
/// - whole-number deltas or deltas of deltas: the first value as a zigzag
///   varint, their greatest common divisor as a varint (memory sizes move by
///   pages), then each one divided by it, classed (0, 5, 8, 16, 32 or 64 bits);
///   whichever of the three is smallest for the chunk;
/// then the CRC-32 of all before it, 4 bytes, so that a damaged chunk is an
/// error, never wrong numbers. The decoder reads the two parts side by side.
///
/// Timestamps must increase strictly (a chunk holds one sample per ts, as the
/// store does) and lie within the store's range (`Timestamp.earliest` to
/// `latest`), so that no delta overflows. Values keep their exact bits: -0
/// stays -0, every NaN its payload (a chunk holding either is XOR-coded).
public enum XORChunk {
    /// How a chunk's values are written.
    enum ValueCoding: UInt64 {
        case xor = 0
        case deltas = 1
        case deltasOfDeltas = 2
    }

    /// A delta of delta that fits n bits, two's complement, takes them after its
    /// prefix. Prometheus's first class has 14 bits; this one has 5, for the few
    /// milliseconds of jitter that every scrape's and collector tick's timestamp
    /// has: 7 bits a sample rather than 16 (on recorded collector data at 1 s,
    /// 2.01 bytes a sample rather than 2.32; `pulsegate-bench chunk-codec`).
    static let timestampClasses = ClassedIntegers(classes: [5, 14, 20])
    /// Whole-number values' differences, divided by their common divisor.
    static let integerClasses = ClassedIntegers(classes: [5, 8, 16, 32])

    /// Encodes `samples` (sorted by ts, each ts once).
    public static func encode(_ samples: some Collection<(timestamp: Int64, value: Double)>) -> [UInt8] {
        var header = BitWriter(capacity: 16)
        header.writeVarint(UInt64(samples.count))
        guard !samples.isEmpty else { return sealed(header.finished) }
        let timestamps = encodeTimestamps(samples.map(\.timestamp))
        let values = samples.map(\.value)
        var best = encodeXOR(values)
        if let integers = wholeNumbers(values) {
            for coding in [ValueCoding.deltas, .deltasOfDeltas] {
                let candidate = encodeIntegers(integers, coding)
                if candidate.count < best.count { best = candidate }
            }
        }
        header.writeVarint(UInt64(timestamps.count))
        return sealed(header.finished + timestamps + best)
    }

    /// `bytes` and their CRC-32.
    private static func sealed(_ bytes: [UInt8]) -> [UInt8] {
        let checksum = crc(bytes)
        return bytes + [UInt8(truncatingIfNeeded: checksum >> 24), UInt8(truncatingIfNeeded: checksum >> 16), UInt8(truncatingIfNeeded: checksum >> 8), UInt8(truncatingIfNeeded: checksum)]
    }

    private static func encodeTimestamps(_ timestamps: [Int64]) -> [UInt8] {
        var writer = BitWriter(capacity: timestamps.count)
        let first = timestamps[0]
        writer.writeVarint(UInt64(bitPattern: first << 1 ^ first >> 63))
        var previousDelta: Int64 = 0
        for index in timestamps.indices.dropFirst() {
            let delta = timestamps[index] - timestamps[index - 1]
            precondition(delta > 0, "XORChunk: timestamps must increase")
            if index == 1 {
                writer.writeVarint(UInt64(delta))
            } else {
                timestampClasses.write(delta &- previousDelta, to: &writer)
            }
            previousDelta = delta
        }
        return writer.finished
    }

    /// The values as whole numbers, when every one is one that a Double holds
    /// exactly (and is not -0, whose bits an integer would lose).
    private static func wholeNumbers(_ values: [Double]) -> [Int64]? {
        var integers: [Int64] = []
        integers.reserveCapacity(values.count)
        for value in values {
            guard value.isFinite, abs(value) <= 0x1p53, value.rounded(.towardZero) == value else { return nil }
            let integer = Int64(value)
            guard Double(integer).bitPattern == value.bitPattern else { return nil }
            integers.append(integer)
        }
        return integers
    }

    private static func encodeIntegers(_ values: [Int64], _ coding: ValueCoding) -> [UInt8] {
        var writer = BitWriter(capacity: values.count)
        writer.write(coding.rawValue, bits: 2)
        writer.writeVarint(UInt64(bitPattern: values[0] << 1 ^ values[0] >> 63))
        let deltas = zip(values.dropFirst(), values).map { $0 - $1 }  // |values| ≤ 2^53: no overflow
        let divisor = deltas.reduce(0) { gcd($0, $1.magnitude) }
        let scale = Int64(max(divisor, 1))
        writer.writeVarint(UInt64(scale))
        var previous: Int64 = 0
        for delta in deltas {
            integerClasses.write(coding == .deltas ? delta / scale : (delta - previous) / scale, to: &writer)
            previous = delta
        }
        return writer.finished
    }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        b == 0 ? a : gcd(b, a % b)
    }

    private static func encodeXOR(_ values: [Double]) -> [UInt8] {
        var writer = BitWriter(capacity: values.count * 2)
        writer.write(ValueCoding.xor.rawValue, bits: 2)
        writer.write(values[0].bitPattern, bits: 64)
        var window = Window.none
        for index in values.indices.dropFirst() {
            window = writeXOR(values[index].bitPattern ^ values[index - 1].bitPattern, window: window, to: &writer)
        }
        return writer.finished
    }

    /// The bits of a value's XOR with the last one that matter: where they sit.
    struct Window: Equatable {
        var leading: Int
        var trailing: Int
        static let none = Window(leading: -1, trailing: -1)
    }

    private static func writeXOR(_ xor: UInt64, window: Window, to writer: inout BitWriter) -> Window {
        guard xor != 0 else {
            writer.write(bit: false)
            return window
        }
        writer.write(bit: true)
        // At most 31 leading zeros: the count has 5 bits.
        let leading = min(xor.leadingZeroBitCount, 31)
        let trailing = xor.trailingZeroBitCount
        if window != .none, leading >= window.leading, trailing >= window.trailing {
            writer.write(bit: false)
            writer.write(xor >> UInt64(window.trailing), bits: 64 - window.leading - window.trailing)
            return window
        }
        let significant = 64 - leading - trailing
        writer.write(bit: true)
        writer.write(UInt64(leading), bits: 5)
        writer.write(UInt64(significant & 63), bits: 6)  // 64 is written as 0: a window is never empty
        writer.write(xor >> UInt64(trailing), bits: significant)
        return Window(leading: leading, trailing: trailing)
    }

    static func crc(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        UInt32(truncatingIfNeeded: crc32(0, bytes.baseAddress?.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }

    static func crc(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBytes { crc($0) }
    }

    /// Every sample of an encoded chunk, in order, or why the bytes are not one.
    public static func decode(_ bytes: [UInt8]) throws(ChunkError) -> [(timestamp: Int64, value: Double)] {
        let decoded = bytes.withUnsafeBytes { buffer -> Result<[(timestamp: Int64, value: Double)], ChunkError> in
            do throws(ChunkError) {
                var decoder = try Decoder(buffer)
                var samples: [(timestamp: Int64, value: Double)] = []
                samples.reserveCapacity(decoder.count)
                while let sample = try decoder.next() { samples.append(sample) }
                return .success(samples)
            } catch {
                return .failure(error)
            }
        }
        return try decoded.get()
    }
}

/// Bytes that are not a chunk `XORChunk` wrote: a checksum that does not
/// match, or a bit stream that ends too soon or says something impossible.
public enum ChunkError: Error, Sendable, Equatable, CustomStringConvertible {
    case checksum
    case truncated
    case corrupt(String)

    public var description: String {
        switch self {
        case .checksum: "the chunk's checksum does not match its bytes"
        case .truncated: "the chunk ends before its last sample"
        case let .corrupt(reason): "the chunk is corrupt: \(reason)"
        }
    }
}
