/// Bytes received and sent by one network device since boot, from `/proc/net/dev`.
struct NetworkCounters: Equatable, Sendable {
    var receivedBytes: UInt64
    var transmittedBytes: UInt64

    /// Device name → counters. The two header lines are skipped.
    static func parse(_ text: Substring) throws -> [String: NetworkCounters] {
        var result: [String: NetworkCounters] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }  // headers have no colon
            let device = line[..<colon].trimmingSpaces
            let fields = line[line.index(after: colon)...].split(separator: " ", omittingEmptySubsequences: true)
            // receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes …
            guard !device.isEmpty, fields.count >= 9,
                  let received = UInt64(fields[0]), let transmitted = UInt64(fields[8])
            else {
                throw ProcParseError.malformed(file: "net/dev", line: String(line))
            }
            result[String(device)] = NetworkCounters(receivedBytes: received, transmittedBytes: transmitted)
        }
        return result
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var slice = self
        while slice.first == " " { slice.removeFirst() }
        while slice.last == " " { slice.removeLast() }
        return slice
    }
}
