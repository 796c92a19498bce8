import Foundation

/// The kernel's view of loopback TCP sockets (`/proc/net/tcp`), so that a test
/// can wait for what a server did with a connection instead of sleeping: the
/// listener's accept queue emptied (every connection accepted), or the bytes a
/// client sent read off the server's side of it.
enum LoopbackSockets {
    struct Entry {
        let localPort: Int
        let remotePort: Int
        /// 0A: listening; 01: established.
        let state: String
        /// For a listener, connections waiting to be accepted; otherwise bytes not yet read.
        let receiveQueue: Int
    }

    static func entries() -> [Entry] {
        // Read to the end: the kernel writes the table a page at a time, and a busy
        // machine's is longer than one (a single read would miss sockets).
        guard let handle = FileHandle(forReadingAtPath: "/proc/net/tcp") else { return [] }
        defer { try? handle.close() }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        return text.split(separator: "\n").dropFirst().compactMap { line in
            let fields = line.split(separator: " ")
            guard fields.count > 4 else { return nil }
            let local = fields[1].split(separator: ":"), remote = fields[2].split(separator: ":")
            let queues = fields[4].split(separator: ":")
            guard local.count == 2, remote.count == 2, queues.count == 2,
                  let localPort = Int(local[1], radix: 16), let remotePort = Int(remote[1], radix: 16),
                  let receiveQueue = Int(queues[1], radix: 16)
            else { return nil }
            return Entry(localPort: localPort, remotePort: remotePort, state: String(fields[3]), receiveQueue: receiveQueue)
        }
    }

    /// The local port of a connected socket.
    static func port(of fd: Int32) -> Int {
        var address = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether the server listening on `serverPort` has accepted every connection
    /// and read every byte that `clients` sent it.
    static func serverHasReadEverything(serverPort: Int, from clients: [RawTCPConnection]) -> Bool {
        let all = entries()
        guard all.contains(where: { $0.localPort == serverPort && $0.state == "0A" && $0.receiveQueue == 0 }) else { return false }
        return clients.allSatisfy { client in
            let clientPort = port(of: client.fd)
            return all.contains { $0.localPort == serverPort && $0.remotePort == clientPort && $0.state == "01" && $0.receiveQueue == 0 }
        }
    }
}
