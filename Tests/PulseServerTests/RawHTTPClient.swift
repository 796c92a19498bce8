import Foundation

/// HTTP/1.1 spoken by hand over a raw TCP connection, for requests no client
/// library would send: oversized, dripped, malformed, pipelined.
///
/// Every blocking call runs on a thread of its own (the server under test
/// answers from Swift's cooperative pool, which a blocked test thread would
/// starve on two cores), and waits for a condition with a generous deadline.
final class RawHTTPClient: Sendable {
    let connection: RawTCPConnection

    init(port: Int) throws {
        connection = try RawTCPConnection(port: port)
    }

    /// What the server sent, and whether it closed the connection after it.
    struct Received: Sendable {
        let text: String
        let closed: Bool
        /// When the first byte (or the close) came.
        let firstByteAt: ContinuousClock.Instant?

        /// The status of each response in it, in order.
        var statuses: [Int] {
            text.components(separatedBy: "HTTP/1.1 ").dropFirst().compactMap { Int($0.prefix(3)) }
        }

        var status: Int? { statuses.first }

        /// The `error` of the last response's JSON body.
        var error: String? {
            guard let start = text.range(of: "\r\n\r\n", options: .backwards) else { return nil }
            let body = Data(text[start.upperBound...].utf8)
            return (try? JSONSerialization.jsonObject(with: body) as? [String: Any])?["error"] as? String
        }
    }

    /// Sends `text` whole (without SIGPIPE should the server have closed).
    func send(_ text: String) async {
        await Self.offThePool { self.sendNow(Array(text.utf8)) }
    }

    /// Reads until the server closes the connection, or `deadline` passes.
    func readUntilClosed(within deadline: Duration = .seconds(30)) async -> Received {
        await Self.offThePool { self.receive(until: ContinuousClock.now + deadline, stopWhen: { _ in false }) }
    }

    /// Reads until `count` responses (heads and `Content-Length` bodies) have come.
    func readResponses(_ count: Int, within deadline: Duration = .seconds(30)) async -> Received {
        await Self.offThePool {
            self.receive(until: ContinuousClock.now + deadline, stopWhen: { Self.completeResponses(in: $0) >= count })
        }
    }

    /// Sends `text` a piece of `pieceBytes` at a time, waiting up to `pause`
    /// for an answer between pieces (so the pause is a wait for the server, not
    /// a sleep); stops when the server answers or closes, then reads until it closes.
    func drip(_ text: String, pieceBytes: Int = 1, pause: Duration, within deadline: Duration = .seconds(30)) async -> (Received, sentBytes: Int, startedAt: ContinuousClock.Instant) {
        await Self.offThePool {
            let bytes = Array(text.utf8)
            let end = ContinuousClock.now + deadline
            let started = ContinuousClock.now
            var sent = 0
            while sent < bytes.count, ContinuousClock.now < end {
                let piece = Array(bytes[sent..<min(sent + pieceBytes, bytes.count)])
                guard self.sendNow(piece) else { break }
                sent += piece.count
                if self.waitReadable(for: pause) { break }
            }
            return (self.receive(until: end, stopWhen: { _ in false }), sent, started)
        }
    }

    @discardableResult
    private func sendNow(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(connection.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { return false }
            offset += sent
        }
        return true
    }

    private func waitReadable(for duration: Duration) -> Bool {
        var descriptor = pollfd(fd: connection.fd, events: Int16(POLLIN), revents: 0)
        let milliseconds = Int32(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        return poll(&descriptor, 1, milliseconds) > 0
    }

    private func receive(until deadline: ContinuousClock.Instant, stopWhen done: ([UInt8]) -> Bool) -> Received {
        var bytes: [UInt8] = []
        var firstByteAt: ContinuousClock.Instant?
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while ContinuousClock.now < deadline, !done(bytes) {
            // The socket's receive timeout (5 s) bounds each wait; the deadline bounds them all.
            let count = recv(connection.fd, &buffer, buffer.count, 0)
            if count == 0 {
                firstByteAt = firstByteAt ?? .now
                return Received(text: String(decoding: bytes, as: UTF8.self), closed: true, firstByteAt: firstByteAt)
            }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                return Received(text: String(decoding: bytes, as: UTF8.self), closed: true, firstByteAt: firstByteAt ?? .now)  // reset
            }
            firstByteAt = firstByteAt ?? .now
            bytes += buffer[0..<count]
        }
        return Received(text: String(decoding: bytes, as: UTF8.self), closed: false, firstByteAt: firstByteAt)
    }

    /// How many whole responses `bytes` holds (each with a `Content-Length`).
    static func completeResponses(in bytes: [UInt8]) -> Int {
        var text = Substring(String(decoding: bytes, as: UTF8.self))
        var count = 0
        while let headEnd = text.range(of: "\r\n\r\n") {
            let head = text[..<headEnd.lowerBound].lowercased()
            let length = head.components(separatedBy: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let body = text[headEnd.upperBound...]
            guard body.utf8.count >= length else { break }
            count += 1
            text = Substring(String(decoding: Array(body.utf8).dropFirst(length), as: UTF8.self))
        }
        return count
    }

    private static func offThePool<T: Sendable>(_ body: @Sendable @escaping () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: body()) }
        }
    }
}
