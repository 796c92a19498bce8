import CZlib

/// One series' samples, compressed as Facebook's Gorilla paper (§4.1) and
/// Prometheus's XOR chunks do: timestamps as deltas of deltas, values as the
/// XOR of each with the one before, both in as few bits as the data allows.
/// A regular series' timestamps cost a bit each; a value equal to the last
/// one costs a bit; a slowly changing one, its changed bits and a little.
///
/// Layout: a varint sample count, then a bit stream: the first timestamp as a
/// zigzag varint and its value's 64 bits; the second timestamp as a varint
/// delta; from the third on, each timestamp's delta of delta in the smallest
/// class that holds it (0; 5, 14, 20 or 64 bits) and each value as an
/// XOR (the same value; the meaningful bits within the last window; or a new
/// window: 5 bits of leading zeros, 6 of length, then the bits). The last 4
/// bytes are the CRC-32 of all before them, so that a damaged chunk is an
/// error, never wrong numbers.
///
/// Timestamps must increase strictly (a chunk holds one sample per ts, as the
/// store does) and lie within the store's range (`Timestamp.earliest` to
/// `latest`), so that no delta overflows. Values keep their exact bits: -0
/// stays -0, every NaN its payload.
public enum XORChunk {
    /// Encodes `samples` (sorted by ts, each ts once).
    public static func encode(_ samples: some Collection<(timestamp: Int64, value: Double)>) -> [UInt8] {
        var writer = BitWriter(capacity: 16 + samples.count * 2)
        writer.writeVarint(UInt64(samples.count))
        var previousTimestamp: Int64 = 0
        var previousDelta: Int64 = 0
        var previousBits: UInt64 = 0
        var window = Window.none
        for (index, sample) in samples.enumerated() {
            let bits = sample.value.bitPattern
            switch index {
            case 0:
                writer.writeVarint(UInt64(bitPattern: sample.timestamp << 1 ^ sample.timestamp >> 63))
                writer.write(bits, bits: 64)
            case 1:
                previousDelta = sample.timestamp - previousTimestamp
                precondition(previousDelta > 0, "XORChunk: timestamps must increase")
                writer.writeVarint(UInt64(previousDelta))
                window = writeXOR(bits ^ previousBits, window: window, to: &writer)
            default:
                let delta = sample.timestamp - previousTimestamp
                precondition(delta > 0, "XORChunk: timestamps must increase")
                writeDeltaOfDelta(delta &- previousDelta, to: &writer)
                previousDelta = delta
                window = writeXOR(bits ^ previousBits, window: window, to: &writer)
            }
            previousTimestamp = sample.timestamp
            previousBits = bits
        }
        var bytes = writer.finished
        let checksum = crc(bytes)
        bytes += [UInt8(truncatingIfNeeded: checksum >> 24), UInt8(truncatingIfNeeded: checksum >> 16), UInt8(truncatingIfNeeded: checksum >> 8), UInt8(truncatingIfNeeded: checksum)]
        return bytes
    }

    /// The bits of a value's XOR with the last one that matter: where they sit.
    struct Window: Equatable {
        var leading: Int
        var trailing: Int
        static let none = Window(leading: -1, trailing: -1)
    }

    /// A delta of delta that fits n bits, two's complement, takes them after its
    /// prefix. Prometheus's first class has 14 bits; this one has 5, for the few
    /// milliseconds of jitter that every scrape's and collector tick's timestamp
    /// has: 7 bits a sample rather than 16 (on recorded collector data at 1 s,
    /// 2.01 bytes a sample rather than 2.32; `pulsegate-bench chunk-codec`).
    static let deltaClasses: [(prefix: UInt64, prefixBits: Int, bits: Int)] = [(0b10, 2, 5), (0b110, 3, 14), (0b1110, 4, 20)]

    private static func writeDeltaOfDelta(_ dod: Int64, to writer: inout BitWriter) {
        if dod == 0 {
            writer.write(bit: false)
            return
        }
        for (prefix, prefixBits, bits) in deltaClasses where -(1 << (bits - 1)) <= dod && dod < 1 << (bits - 1) {
            writer.write(prefix, bits: prefixBits)
            writer.write(UInt64(bitPattern: dod), bits: bits)
            return
        }
        writer.write(0b1111, bits: 4)
        writer.write(UInt64(bitPattern: dod), bits: 64)
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
