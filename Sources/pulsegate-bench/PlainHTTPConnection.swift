import Foundation

/// One keep-alive HTTP/1.1 connection over a blocking loopback socket, for a
/// load generator that should cost the machine next to nothing.
///
/// A request is written as prepared bytes (head and body), and the response is
/// read up to its `Content-Length`: no parsing beyond the status and that
/// header, no allocation per request but the response buffer's growth. On two
/// cores the generator shares the CPU with the server; AsyncHTTPClient, for
/// all its merits, took about half a core to post 1,000-sample bodies at
/// 200 requests/s, which the benchmark then charged to Pulsegate.
final class PlainHTTPConnection: @unchecked Sendable {  // one thread uses it at a time
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 64 * 1024)

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket() failed") }
        var noDelay: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port)")
        }
    }

    deinit { close(fd) }

    /// The bytes of a `POST` with a body, ready to send as they are.
    static func post(path: String, contentType: String, contentEncoding: String? = nil, body: [UInt8]) -> [UInt8] {
        let encoding = contentEncoding.map { "Content-Encoding: \($0)\r\n" } ?? ""
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\n\(encoding)Content-Length: \(body.count)\r\n\r\n"
        return Array(head.utf8) + body
    }

    /// The bytes of a `GET`.
    static func get(path: String) -> [UInt8] {
        Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
    }

    /// Sends `request` and returns the response's status once the whole response is read.
    func exchange(_ request: [UInt8]) throws -> Int {
        try request.withUnsafeBytes { bytes in
            var sent = 0
            while sent < bytes.count {
                let count = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { throw BenchError("send failed: errno \(errno)") }
                sent += count
            }
        }
        // Read until the head is complete, then until the body is.
        var filled = 0
        var headEnd: Int?
        var total = Int.max
        while filled < total {
            if filled == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + filled, $0.count - filled, 0) }
            guard count > 0 else { throw BenchError("the server closed the connection") }
            filled += count
            if headEnd == nil, let end = Self.find([13, 10, 13, 10], in: buffer[..<filled]) {
                headEnd = end + 4
                total = end + 4 + Self.contentLength(buffer[..<end])
            }
        }
        // "HTTP/1.1 200 OK": the status is the three digits after the first space.
        let digits = filled >= 12 ? buffer[9..<12] : []
        guard buffer.starts(with: Array("HTTP/1.".utf8)), digits.count == 3, digits.allSatisfy({ (48...57).contains($0) }) else {
            throw BenchError("not an HTTP response: \(String(decoding: buffer[..<min(filled, 200)], as: UTF8.self))")
        }
        if total > filled || filled > total { throw BenchError("read \(filled) bytes of a \(total)-byte response") }
        return digits.reduce(0) { $0 * 10 + Int($1 - 48) }
    }

    private static func find(_ needle: [UInt8], in haystack: ArraySlice<UInt8>) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        while index <= haystack.endIndex - needle.count {
            if haystack[index] == needle[0], haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func contentLength(_ head: ArraySlice<UInt8>) -> Int {
        // By lines: to Swift, "\r\n" is one Character, which a search for "\r" would not find.
        let lines = String(decoding: head, as: UTF8.self).lowercased().components(separatedBy: "\r\n")
        guard let line = lines.first(where: { $0.hasPrefix("content-length:") }) else { return 0 }
        return Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }
}
