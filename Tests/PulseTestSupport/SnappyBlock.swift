import CSnappy

/// Snappy's block format, compressed by the system library: what a remote_write
/// sender does to its body, for tests and benchmarks.
public enum SnappyBlock {
    public static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var length = snappy_max_compressed_length(bytes.count)
        var output = [UInt8](repeating: 0, count: length)
        let status = bytes.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                snappy_compress(input.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count, out.baseAddress?.assumingMemoryBound(to: CChar.self), &length)
            }
        }
        precondition(status == SNAPPY_OK, "snappy_compress failed")
        return Array(output.prefix(length))
    }
}
