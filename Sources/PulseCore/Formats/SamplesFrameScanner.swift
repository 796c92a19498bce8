import Foundation

/// Reads back a samples frame exactly as `LiveFrame.samples` writes it, in one
/// pass over its bytes: a cluster node reads every other node's batches, and
/// the general JSON reader (a tree of values, a string per key) cost it more
/// than its own pushes' parsing. Anything else it meets (another field order,
/// an escaped string, an unusual number) makes it give up (nil), and the
/// caller falls back to the general reader: this is a shortcut, never a
/// second definition of the format.
///
/// A frame repeats its series (a push of 25 series × 40 ticks): each distinct
/// `"metric":…,"labels":{…}` run of bytes becomes one `SeriesKey`, shared by
/// the samples that repeat it.
struct SamplesFrameScanner {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    static func decode(_ text: String) -> PublishedBatch? {
        var text = text
        return text.withUTF8 { buffer in
            var scanner = SamplesFrameScanner(bytes: buffer)
            return scanner.batch()
        }
    }

    private init(bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The series met so far, by the hash of their bytes, with where those bytes are.
    private struct KnownSeries {
        let start: Int
        let count: Int
        let key: SeriesKey
    }

    private mutating func batch() -> PublishedBatch? {
        guard literal(#"{"type":"samples","seq":"#), let seq = unsigned(),
              literal(#","server_ts":"#), let serverTime = double(),
              literal(#","samples":["#)
        else { return nil }
        var samples: [Sample] = []
        var known: [Int: [KnownSeries]] = [:]
        if peek() == UInt8(ascii: "]") {
            index += 1
        } else {
            while true {
                guard literal("{\"metric\":\"") else { return nil }
                let start = index
                guard let key = seriesKey(from: start, known: &known),
                      literal(#","ts":"#), let timestamp = signed(),
                      literal(#","value":"#), let value = double(),
                      literal("}")
                else { return nil }
                samples.append(Sample(key: key, timestamp: timestamp, value: value))
                switch next() {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "]"): break
                default: return nil
                }
                break
            }
        }
        guard literal("}"), index == bytes.count else { return nil }
        return PublishedBatch(seq: seq, serverTime: serverTime, samples: samples)
    }

    /// From the metric's first byte to the end of the labels object: a key met
    /// before in this frame, or a new one.
    private mutating func seriesKey(from start: Int, known: inout [Int: [KnownSeries]]) -> SeriesKey? {
        guard let metric = stringRange(), literal(#","labels":{"#) else { return nil }
        var labels: [(name: Range<Int>, value: Range<Int>)] = []
        if peek() == UInt8(ascii: "}") {
            index += 1
        } else {
            while true {
                guard literal("\""), let name = stringRange(), literal(":\""), let value = stringRange() else { return nil }
                labels.append((name, value))
                switch next() {
                case UInt8(ascii: ","): continue
                case UInt8(ascii: "}"): break
                default: return nil
                }
                break
            }
        }
        let run = UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: bytes[start..<index]))
        var hasher = Hasher()
        hasher.combine(bytes: run)
        let hash = hasher.finalize()
        if let found = known[hash]?.first(where: { $0.count == run.count && memcmp(bytes.baseAddress! + $0.start, run.baseAddress!, run.count) == 0 }) {
            return found.key
        }
        var pairs: [Label] = []
        pairs.reserveCapacity(labels.count)
        for (name, value) in labels { pairs.append(Label(text(name), text(value))) }
        let key = SeriesKey(metric: text(metric), labels: pairs)
        known[hash, default: []].append(KnownSeries(start: start, count: run.count, key: key))
        return key
    }

    // MARK: Pieces

    /// The bytes of a string up to its closing quote (the opening one already
    /// read), which it passes; nil for an escape, a control character or the end.
    private mutating func stringRange() -> Range<Int>? {
        let start = index
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return start..<index - 1
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { return nil }
            index += 1
        }
        return nil
    }

    private func text(_ range: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    private mutating func literal(_ expected: StaticString) -> Bool {
        let count = expected.utf8CodeUnitCount
        guard index + count <= bytes.count, memcmp(bytes.baseAddress! + index, expected.utf8Start, count) == 0 else { return false }
        index += count
        return true
    }

    private func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    private mutating func next() -> UInt8? {
        defer { index += 1 }
        return peek()
    }

    private mutating func unsigned() -> UInt64? {
        let start = index
        var value: UInt64 = 0
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times, overflow) = value.multipliedReportingOverflow(by: 10)
            let (sum, carry) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            guard !overflow, !carry else { return nil }
            value = sum
            index += 1
        }
        return index > start ? value : nil
    }

    private mutating func signed() -> Int64? {
        let negative = peek() == UInt8(ascii: "-")
        if negative { index += 1 }
        guard let magnitude = unsigned() else { return nil }
        if negative {
            return magnitude <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// A number as Swift prints a finite Double (and `formatMilliseconds`), read exactly.
    private mutating func double() -> Double? {
        let start = index
        while let byte = peek(), (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            index += 1
        }
        guard index > start, let value = Double(text(start..<index)), value.isFinite else { return nil }
        return value
    }
}
