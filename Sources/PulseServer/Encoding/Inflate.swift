import CZlib

/// Compressed input inflated with the system's zlib, with its output bounded,
/// so that a small hostile input cannot expand into gigabytes: request bodies
/// sent with `Content-Encoding: gzip`, and WebSocket messages compressed with
/// permessage-deflate.
enum Inflate {
    enum Failure: Error {
        case corrupt(String)
        case tooLarge(limit: Int)
    }

    enum Framing {
        /// A gzip member, header to trailer, and nothing after it.
        case gzip
        /// Raw deflate blocks ended by a sync flush (RFC 7692 §7.2.2: the
        /// sender's trailing 00 00 FF FF, which the caller appends again).
        case rawDeflate

        var windowBits: Int32 {
            switch self {
            case .gzip: 16 + MAX_WBITS  // expect a gzip header and trailer
            case .rawDeflate: -MAX_WBITS  // no header: the largest window, which reads any smaller one
            }
        }
    }

    static func inflate(_ input: [UInt8], _ framing: Framing, limit: Int) throws(Failure) -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, framing.windowBits, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .corrupt("zlib could not start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: min(64 * 1024, limit + 1))
        var input = input
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
                switch (framing, status) {
                case (.gzip, Z_STREAM_END):
                    return stream.avail_in == 0 ? Z_STREAM_END : Z_DATA_ERROR
                case (.rawDeflate, Z_STREAM_END):
                    // A final block ends the stream; what follows can only be the appended flush marker.
                    return Z_STREAM_END
                case (.rawDeflate, Z_OK), (.rawDeflate, Z_BUF_ERROR):
                    // Everything read and the output not full: the message is whole.
                    if stream.avail_in == 0, stream.avail_out > 0 { return Z_STREAM_END }
                    if status == Z_BUF_ERROR { return Z_DATA_ERROR }
                case (.gzip, Z_OK):
                    continue
                case (_, Z_BUF_ERROR):
                    return Z_DATA_ERROR  // the input ended inside the stream
                default:
                    return status
                }
            }
        }
        switch result {
        case Z_STREAM_END: return output
        case Z_MEM_ERROR: throw .tooLarge(limit: limit)
        default: throw .corrupt(stream.msg.map { String(cString: $0) } ?? "not a complete \(framing == .gzip ? "gzip" : "deflate") stream")
        }
    }
}
