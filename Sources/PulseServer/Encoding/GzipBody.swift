import CZlib
import NIOCore

/// Request bodies sent with `Content-Encoding: gzip`, inflated with the
/// system's zlib. The output is bounded, so that a small hostile body cannot
/// expand into gigabytes.
enum GzipBody {
    enum Failure: Error {
        case corrupt(String)
        case tooLarge(limit: Int)
    }

    static func inflate(_ input: ByteBuffer, limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer, not raw deflate.
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var input = Array(input.readableBytesView)
        let result: Int32 = input.withUnsafeMutableBufferPointer { inputBytes in
            stream.next_in = inputBytes.baseAddress
            stream.avail_in = uInt(inputBytes.count)
            while true {
                let status = chunk.withUnsafeMutableBufferPointer { chunkBytes -> Int32 in
                    stream.next_out = chunkBytes.baseAddress
                    stream.avail_out = uInt(chunkBytes.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk.count - Int(stream.avail_out)
                if output.count + produced > limit { return Z_MEM_ERROR }
                output.append(contentsOf: chunk[0..<produced])
                if status == Z_STREAM_END { return stream.avail_in == 0 ? Z_STREAM_END : Z_DATA_ERROR }
                if status != Z_OK { return status == Z_BUF_ERROR ? Z_DATA_ERROR : status }
            }
        }
        switch result {
        case Z_STREAM_END: return output
        case Z_MEM_ERROR: throw .tooLarge(limit: limit)
        default: throw .corrupt(stream.msg.map { String(cString: $0) } ?? "not a complete gzip stream")
        }
    }
}
