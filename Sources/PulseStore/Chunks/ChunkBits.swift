/// Bits written most significant first into bytes: what `XORChunk` encodes into.
struct BitWriter {
    private var bytes: [UInt8] = []
    /// Bits not yet in `bytes`, right-aligned: fewer than 8 between writes.
    private var accumulator: UInt64 = 0
    private var pending = 0

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    /// The low `count` bits of `value` (`count` ≤ 64).
    mutating func write(_ value: UInt64, bits count: Int) {
        if count > 56 {  // so that the accumulator never holds more than 63 bits
            write(value >> 32, bits: count - 32)
            write(value & 0xffff_ffff, bits: 32)
            return
        }
        accumulator = accumulator << UInt64(count) | (value & ((1 << UInt64(count)) &- 1))
        pending += count
        while pending >= 8 {
            pending -= 8
            bytes.append(UInt8(truncatingIfNeeded: accumulator >> UInt64(pending)))
        }
        accumulator &= (1 << UInt64(pending)) - 1
    }

    mutating func write(bit: Bool) {
        write(bit ? 1 : 0, bits: 1)
    }

    /// A varint's bytes (LEB128), eight bits each.
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            write(value & 0x7f | 0x80, bits: 8)
            value >>= 7
        }
        write(value, bits: 8)
    }

    /// Everything written, the last byte padded with zero bits.
    var finished: [UInt8] {
        pending == 0 ? bytes : bytes + [UInt8(truncatingIfNeeded: accumulator << UInt64(8 - pending))]
    }
}

/// Reads what a `BitWriter` wrote; running past the end is a `ChunkError`.
struct BitReader {
    private let bytes: UnsafeRawBufferPointer
    /// The next bit's position, from the first byte's top bit.
    private var position = 0

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    var bitsLeft: Int { bytes.count * 8 - position }

    mutating func read(bits count: Int) throws(ChunkError) -> UInt64 {
        guard count <= bitsLeft else { throw .truncated }
        var value: UInt64 = 0
        var remaining = count
        while remaining > 0 {
            let byte = bytes[position >> 3]
            let offset = position & 7
            let take = min(8 - offset, remaining)
            let chunk = (UInt64(byte) >> UInt64(8 - offset - take)) & ((1 << UInt64(take)) - 1)
            value = value << UInt64(take) | chunk
            position += take
            remaining -= take
        }
        return value
    }

    mutating func readBit() throws(ChunkError) -> Bool {
        try read(bits: 1) == 1
    }

    mutating func readVarint() throws(ChunkError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try read(bits: 8)
            guard shift < 64, shift < 63 || byte <= 1 else { throw .corrupt("a varint overflows 64 bits") }
            value |= (byte & 0x7f) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
    }
}
