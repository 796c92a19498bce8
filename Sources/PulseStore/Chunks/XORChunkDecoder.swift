extension XORChunk {
    /// Reads a chunk's samples one at a time, allocating nothing: the store
    /// streams a range query through it. The checksum is verified before the
    /// first sample; the decoder borrows its bytes.
    public struct Decoder {
        /// Samples in the chunk.
        public let count: Int
        private var reader: BitReader
        private var index = 0
        private var timestamp: Int64 = 0
        private var delta: Int64 = 0
        private var bits: UInt64 = 0
        private var window = Window.none

        public init(_ bytes: UnsafeRawBufferPointer) throws(ChunkError) {
            guard bytes.count >= 5 else { throw .truncated }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
            let stored = bytes[bytes.count - 4..<bytes.count].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard XORChunk.crc(payload) == stored else { throw .checksum }
            reader = BitReader(payload)
            let count = try reader.readVarint()
            // Every sample after the first takes two bits at least.
            guard count <= UInt64(payload.count) * 4 + 1 else { throw .corrupt("it claims \(count) samples in \(payload.count) bytes") }
            self.count = Int(count)
        }

        /// The next sample; nil after the last one.
        public mutating func next() throws(ChunkError) -> (timestamp: Int64, value: Double)? {
            guard index < count else { return nil }
            defer { index += 1 }
            switch index {
            case 0:
                let zigzag = try reader.readVarint()
                timestamp = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
                bits = try reader.read(bits: 64)
            case 1:
                let raw = try reader.readVarint()
                guard raw > 0, raw <= UInt64(Int64.max) else { throw .corrupt("the second sample's delta is \(raw)") }
                delta = Int64(raw)
                timestamp = try advance(timestamp, by: delta)
                try readXOR()
            default:
                delta = try advance(delta, by: try readDeltaOfDelta())
                guard delta > 0 else { throw .corrupt("timestamps do not increase at sample \(index)") }
                timestamp = try advance(timestamp, by: delta)
                try readXOR()
            }
            return (timestamp, Double(bitPattern: bits))
        }

        private func advance(_ value: Int64, by step: Int64) throws(ChunkError) -> Int64 {
            let (sum, overflow) = value.addingReportingOverflow(step)
            guard !overflow else { throw .corrupt("a timestamp overflows at sample \(index)") }
            return sum
        }

        /// After a 1, each further 1 moves to the next class; a 0 ends the prefix.
        private mutating func readDeltaOfDelta() throws(ChunkError) -> Int64 {
            guard try reader.readBit() else { return 0 }
            for (_, _, bits) in XORChunk.deltaClasses where !(try reader.readBit()) {
                return signed(try reader.read(bits: bits), bits: bits)
            }
            return Int64(bitPattern: try reader.read(bits: 64))
        }

        /// The low `bits` bits of `raw`, sign-extended.
        private func signed(_ raw: UInt64, bits: Int) -> Int64 {
            let shift = UInt64(64 - bits)
            return Int64(bitPattern: raw << shift) >> Int64(shift)
        }

        private mutating func readXOR() throws(ChunkError) {
            guard try reader.readBit() else { return }
            if try reader.readBit() {
                let leading = Int(try reader.read(bits: 5))
                var significant = Int(try reader.read(bits: 6))
                if significant == 0 { significant = 64 }
                guard leading + significant <= 64 else { throw .corrupt("a value's window runs past 64 bits at sample \(index)") }
                window = Window(leading: leading, trailing: 64 - leading - significant)
            } else if window == .none {
                throw .corrupt("a value reuses a window before any at sample \(index)")
            }
            let significant = 64 - window.leading - window.trailing
            bits ^= try reader.read(bits: significant) << UInt64(window.trailing)
        }
    }
}
