#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads small pseudo-files such as those under `/proc`, which report a size
/// of zero and must be read until end of file.
enum ProcFile {
    struct ReadError: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot read \(path): \(String(cString: strerror(errno)))" }
    }

    static func read(_ path: String, limit: Int = 1 << 20) throws -> Substring {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ReadError(path: path, errno: errno) }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while bytes.count < limit {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw ReadError(path: path, errno: errno)
            }
            if count == 0 { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return Substring(String(decoding: bytes, as: UTF8.self))
    }
}
