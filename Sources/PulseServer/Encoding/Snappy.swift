import CSnappy

/// Snappy's block format (not its framing format), decoded with the system's
/// libsnappy: the `Content-Encoding: snappy` of remote_write bodies.
///
/// A block starts with its uncompressed length; that is checked against the
/// limit before anything is allocated, so a small body that claims gigabytes
/// costs nothing, and the block is validated before it is decoded.
enum Snappy {
    enum Failure: Error {
        case corrupt(String)
        case tooLarge(limit: Int)
    }

    static func decompress(_ input: some Collection<UInt8>, limit: Int) throws(Failure) -> [UInt8] {
        let result: Result<[UInt8], Failure>? = input.withContiguousStorageIfAvailable { decompress(UnsafeRawBufferPointer($0), limit: limit) }
        return try (result ?? Array(input).withUnsafeBytes { decompress($0, limit: limit) }).get()
    }

    private static func decompress(_ input: UnsafeRawBufferPointer, limit: Int) -> Result<[UInt8], Failure> {
        let compressed = input.baseAddress?.assumingMemoryBound(to: CChar.self)
        var length = 0
        guard let compressed, snappy_uncompressed_length(compressed, input.count, &length) == SNAPPY_OK else {
            return .failure(.corrupt("its length header cannot be read"))
        }
        guard length <= limit else { return .failure(.tooLarge(limit: limit)) }
        guard snappy_validate_compressed_buffer(compressed, input.count) == SNAPPY_OK else {
            return .failure(.corrupt("the block is not valid snappy"))
        }
        guard length > 0 else { return .success([]) }
        var output = [UInt8](repeating: 0, count: length)
        var produced = length
        let status = output.withUnsafeMutableBytes { bytes in
            snappy_uncompress(compressed, input.count, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), &produced)
        }
        guard status == SNAPPY_OK, produced == length else { return .failure(.corrupt("the block does not decode to its stated length")) }
        return .success(output)
    }
}
