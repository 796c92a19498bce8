import CZlib
import Synchronization

/// Compresses independent messages into raw deflate blocks ended by a sync
/// flush, as permessage-deflate without context takeover sends them (RFC
/// 7692 §7.2.1): every message starts from an empty window, so one
/// compressed message suits every client.
///
/// One zlib stream, reset between messages rather than set up for each (a
/// deflate stream's window and hash tables are a quarter of a megabyte to
/// allocate); a lock, as messages are compressed on several threads.
final class RawDeflater: @unchecked Sendable {
    private let stream: UnsafeMutablePointer<z_stream>
    private let lock = Mutex<[UInt8]>([])

    /// `level`: zlib's 1 (fastest) to 9 (smallest).
    init(level: Int32) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        // Raw deflate (negative window bits), the largest window, zlib's default memory level.
        let status = deflateInit2_(stream, level, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        precondition(status == Z_OK, "zlib could not start a deflate stream (\(status))")
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// `input` compressed, without the trailing 00 00 FF FF of its sync flush
    /// (RFC 7692 §7.2.1: the receiver appends it again), handed to `body`.
    func compress<Result>(_ input: UnsafeRawBufferPointer, _ body: (ArraySlice<UInt8>) -> Result) -> Result {
        lock.withLock { output in
            deflateReset(stream)
            let bound = Int(deflateBound(stream, uLong(input.count))) + 16
            if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
            let produced = output.withUnsafeMutableBufferPointer { outputBytes -> Int in
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
                stream.pointee.avail_in = uInt(input.count)
                stream.pointee.next_out = outputBytes.baseAddress
                stream.pointee.avail_out = uInt(outputBytes.count)
                // The bound leaves room for everything: one call compresses and flushes it all.
                let status = deflate(stream, Z_SYNC_FLUSH)
                precondition(status == Z_OK && stream.pointee.avail_in == 0, "deflate stopped short (\(status))")
                return outputBytes.count - Int(stream.pointee.avail_out)
            }
            // A sync flush always ends with an empty stored block: 00 00 FF FF.
            return body(output[0..<(produced - 4)])
        }
    }
}
