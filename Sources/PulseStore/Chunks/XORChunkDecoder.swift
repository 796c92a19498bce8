extension XORChunk {
    /// Reads a chunk's samples one at a time, allocating nothing: the store
    /// streams a range query through it. The checksum is verified before the
    /// first sample; the decoder borrows its bytes.
    public struct Decoder {
        /// Samples in the chunk.
        public let count: Int
        private var timestamps: BitReader
        private var values: BitReader
        private var coding = ValueCoding.xor
        private var index = 0
        private var timestamp: Int64 = 0
        private var delta: Int64 = 0
        private var bits: UInt64 = 0
        private var window = Window.none
        /// Whole-number values: the last one, its delta, and their divisor.
        private var integer: Int64 = 0
        private var integerDelta: Int64 = 0
        private var scale: Int64 = 1

        public init(_ bytes: UnsafeRawBufferPointer) throws(ChunkError) {
            guard bytes.count >= 5 else { throw .truncated }
            let payload = UnsafeRawBufferPointer(rebasing: bytes[..<(bytes.count - 4)])
            let stored = bytes[bytes.count - 4..<bytes.count].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            guard XORChunk.crc(payload) == stored else { throw .checksum }
            var header = BitReader(payload)
            let count = try header.readVarint()
            // Every sample after the first takes two bits at least.
            guard count <= UInt64(payload.count) * 4 + 1 else { throw .corrupt("it claims \(count) samples in \(payload.count) bytes") }
            self.count = Int(count)
            guard count > 0 else {
                timestamps = header
                values = header
                return
            }
            let length = try header.readVarint()
            let start = payload.count - header.bitsLeft / 8
            guard length <= UInt64(payload.count - start) else { throw .corrupt("its timestamps run past its end") }
            timestamps = BitReader(UnsafeRawBufferPointer(rebasing: payload[start..<(start + Int(length))]))
            values = BitReader(UnsafeRawBufferPointer(rebasing: payload[(start + Int(length))...]))
            guard let coding = ValueCoding(rawValue: try values.read(bits: 2)) else { throw .corrupt("an unknown value coding") }
            self.coding = coding
        }

        /// The next sample; nil after the last one.
        public mutating func next() throws(ChunkError) -> (timestamp: Int64, value: Double)? {
            guard index < count else { return nil }
            try nextTimestamp()
            let value = coding == .xor ? try nextXOR() : try nextInteger()
            index += 1
            return (timestamp, value)
        }

        private mutating func nextTimestamp() throws(ChunkError) {
            switch index {
            case 0:
                let zigzag = try timestamps.readVarint()
                timestamp = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            case 1:
                let raw = try timestamps.readVarint()
                guard raw > 0, raw <= UInt64(Int64.max) else { throw .corrupt("the second sample's delta is \(raw)") }
                delta = Int64(raw)
                timestamp = try advance(timestamp, by: delta)
            default:
                delta = try advance(delta, by: try XORChunk.timestampClasses.read(from: &timestamps))
                guard delta > 0 else { throw .corrupt("timestamps do not increase at sample \(index)") }
                timestamp = try advance(timestamp, by: delta)
            }
        }

        private func advance(_ value: Int64, by step: Int64) throws(ChunkError) -> Int64 {
            let (sum, overflow) = value.addingReportingOverflow(step)
            guard !overflow else { throw .corrupt("a number overflows at sample \(index)") }
            return sum
        }

        private mutating func nextXOR() throws(ChunkError) -> Double {
            guard index > 0 else {
                bits = try values.read(bits: 64)
                return Double(bitPattern: bits)
            }
            guard try values.readBit() else { return Double(bitPattern: bits) }
            if try values.readBit() {
                let leading = Int(try values.read(bits: 5))
                var significant = Int(try values.read(bits: 6))
                if significant == 0 { significant = 64 }
                guard leading + significant <= 64 else { throw .corrupt("a value's window runs past 64 bits at sample \(index)") }
                window = Window(leading: leading, trailing: 64 - leading - significant)
            } else if window == .none {
                throw .corrupt("a value reuses a window before any at sample \(index)")
            }
            let significant = 64 - window.leading - window.trailing
            bits ^= try values.read(bits: significant) << UInt64(window.trailing)
            return Double(bitPattern: bits)
        }

        private mutating func nextInteger() throws(ChunkError) -> Double {
            if index == 0 {
                let zigzag = try values.readVarint()
                integer = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
                let divisor = try values.readVarint()
                guard divisor > 0, divisor <= 1 << 54 else { throw .corrupt("a divisor of \(divisor)") }
                scale = Int64(divisor)
            } else {
                let (step, overflow) = try XORChunk.integerClasses.read(from: &values).multipliedReportingOverflow(by: scale)
                guard !overflow else { throw .corrupt("a number overflows at sample \(index)") }
                integerDelta = coding == .deltas ? step : try advance(integerDelta, by: step)
                integer = try advance(integer, by: integerDelta)
            }
            // Whole numbers a Double holds exactly: anything larger was not written so.
            guard integer.magnitude <= 1 << 53 else { throw .corrupt("a whole number out of range at sample \(index)") }
            return Double(integer)
        }
    }
}
