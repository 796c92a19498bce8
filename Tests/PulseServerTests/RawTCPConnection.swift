import Foundation

/// A plain TCP connection to the loopback gateway over a blocking POSIX socket,
/// for peers that misbehave below HTTP: connect and say nothing, send half a
/// request, stop reading, vanish without a close.
final class RawTCPConnection: @unchecked Sendable {
    private(set) var fd: Int32

    /// Connects (on loopback this does not wait for the server); `receiveBuffer`
    /// shrinks the kernel buffer so that a stalled reader backs up fast.
    init(port: Int, receiveBuffer: Int32? = nil) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LiveTestError("socket failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw LiveTestError("connect failed")
        }
        self.fd = fd
    }

    func send(_ text: String) {
        _ = text.withCString { Glibc.send(fd, $0, strlen($0), 0) }
    }

    func send(bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// Reads one byte; false at end of stream, on error or after the 5 s receive timeout.
    func readByte(_ byte: inout UInt8) -> Bool {
        recv(fd, &byte, 1, 0) == 1
    }

    /// Reads what is there (blocking until something is, or 5 s), up to `limit` bytes.
    func read(limit: Int) -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = recv(fd, &buffer, limit, 0)
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    /// Reads what is there, up to `limit` bytes: empty after the 5 s receive
    /// timeout with nothing read, nil at the end of the stream or on an error.
    func readChunk(limit: Int) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: limit)
        let count = recv(fd, &buffer, limit, 0)
        if count > 0 { return Array(buffer[0..<count]) }
        return count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? [] : nil
    }

    /// Drops the connection without a close, like a peer that vanishes.
    func drop() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)  // RST, not FIN
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        Glibc.close(fd)
        fd = -1
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }
}
