/// Whole numbers that are mostly small, each in the smallest of a few classes:
/// `0` alone for zero; then a prefix of k ones and a zero for class k, and the
/// number in that class's bits (two's complement); the last prefix (all ones)
/// carries 64 bits. Gorilla's delta-of-delta timestamps are this with classes
/// of 7, 9 and 12 bits; Prometheus's, 14, 17 and 20; `XORChunk` picks its own.
struct ClassedIntegers {
    /// The bits of each class, smallest first.
    let classes: [Int]

    func write(_ value: Int64, to writer: inout BitWriter) {
        guard value != 0 else {
            writer.write(bit: false)
            return
        }
        for (index, bits) in classes.enumerated() where -(1 << (bits - 1)) <= value && value < 1 << (bits - 1) {
            // index + 1 ones, then a zero.
            writer.write((1 << UInt64(index + 2)) - 2, bits: index + 2)
            writer.write(UInt64(bitPattern: value), bits: bits)
            return
        }
        writer.write((1 << UInt64(classes.count + 1)) - 1, bits: classes.count + 1)
        writer.write(UInt64(bitPattern: value), bits: 64)
    }

    func read(from reader: inout BitReader) throws(ChunkError) -> Int64 {
        guard try reader.readBit() else { return 0 }
        for bits in classes where !(try reader.readBit()) {
            let shift = UInt64(64 - bits)
            return Int64(bitPattern: try reader.read(bits: bits) << shift) >> Int64(shift)
        }
        return Int64(bitPattern: try reader.read(bits: 64))
    }
}
