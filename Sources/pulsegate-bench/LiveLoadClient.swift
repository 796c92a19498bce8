import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// One of the benchmark's WebSocket connections: counts samples frames by seq
/// and records delivery latency (receive time against the frame's `server_ts`).
///
/// It reads each frame's header bytes in place, with no JSON parsing and no
/// String per frame, so that the client is not what the benchmark measures.
final class LiveLoadClient: Sendable {
    struct Counts {
        var frames = 0
        var firstSeq = 0
        var lastSeq = 0
        var hello = false
        var latencies: [Double] = []
        var recording = false
        var recorded = 0
        var recordFrom = Int.max
        var recordTo = Int.max
    }

    let counts = Mutex(Counts())

    static let logger: Logger = {
        var logger = Logger(label: "bench-client")
        logger.logLevel = .critical
        return logger
    }()

    func run(url: String) async {
        _ = try? await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 20), logger: Self.logger) { inbound, _, _ in
            for try await frame in inbound {
                self.received(frame.data)
            }
        }
    }

    private func received(_ data: ByteBuffer) {
        let now = Date().timeIntervalSince1970 * 1000
        guard let header = Self.header(data) else {
            counts.withLock { $0.hello = true }
            return
        }
        counts.withLock { counts in
            counts.frames += 1
            if counts.firstSeq == 0 { counts.firstSeq = header.seq }
            counts.lastSeq = header.seq
            if header.seq >= counts.recordFrom, header.seq <= counts.recordTo {
                counts.recorded += 1
                counts.latencies.append(now - header.serverTime)
            }
        }
    }

    /// `{"type":"samples","seq":N,"server_ts":T,…` → (N, T); nil for other frames.
    static func header(_ buffer: ByteBuffer) -> (seq: Int, serverTime: Double)? {
        buffer.withUnsafeReadableBytes { bytes -> (Int, Double)? in
            let prefix = Array(#"{"type":"samples","seq":"#.utf8)
            guard bytes.count > prefix.count + 16, bytes.starts(with: prefix) else { return nil }
            var index = prefix.count
            var seq = 0
            while index < bytes.count, bytes[index] >= 48, bytes[index] <= 57 {
                seq = seq * 10 + Int(bytes[index] - 48)
                index += 1
            }
            let timeKey = Array(#","server_ts":"#.utf8)
            guard bytes[index...].starts(with: timeKey) else { return nil }
            index += timeKey.count
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: ",") { end += 1 }
            guard let time = Double(String(decoding: bytes[index..<end], as: UTF8.self)) else { return nil }
            return (seq, time)
        }
    }
}
