import Foundation
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import NIOCore
import NIOWebSocket
import PulseCore
import PulseLive
import PulseTestSupport
import PulseServer
import PulseStore

/// A real WebSocket client (swift-websocket's) that records every text frame it receives.
actor LiveClient {
    private(set) var texts: [String] = []
    /// When each text arrived, in ms since the epoch (the clock of the frames' `server_ts`).
    private(set) var receivedAt: [Double] = []
    private(set) var closeFrame: WebSocketCloseFrame?
    private(set) var ended = false
    private var outbound: WebSocketOutboundWriter?
    private var task: Task<Void, Never>?

    static let logger: Logger = {
        var logger = Logger(label: "live-test-client")
        logger.logLevel = .error
        return logger
    }()

    /// Connects to `ws://127.0.0.1:<port>/ws/metrics?<query>` and waits for the hello.
    static func connect(port: Int, query: String = "") async throws -> LiveClient {
        let client = LiveClient()
        await client.start(url: "ws://127.0.0.1:\(port)/ws/metrics" + (query.isEmpty ? "" : "?" + query))
        guard try await client.frames(1).first?["type"] as? String == "hello" else {
            throw LiveTestError("no hello from the server")
        }
        return client
    }

    private func start(url: String) {
        task = Task {
            do {
                let close = try await WebSocketClient.connect(url: url, logger: Self.logger) { inbound, outbound, _ in
                    await self.setOutbound(outbound)
                    for try await message in inbound.messages(maxSize: 1 << 24) {
                        if case let .text(text) = message { await self.append(text) }
                    }
                }
                self.finish(close)
            } catch {
                self.finish(nil)
            }
        }
    }

    private func setOutbound(_ writer: WebSocketOutboundWriter) { outbound = writer }
    private func append(_ text: String) {
        texts.append(text)
        receivedAt.append(Date().timeIntervalSince1970 * 1000)
    }
    private func finish(_ close: WebSocketCloseFrame?) {
        closeFrame = close
        ended = true
    }

    /// The first `count` frames, parsed, once they have arrived.
    nonisolated func frames(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [[String: Any]] {
        try await texts(count, timeout: timeout).map(LiveTestError.parse)
    }

    /// The first `count` frames as received, once they have arrived.
    func texts(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [String] {
        let deadline = ContinuousClock.now + timeout
        while texts.count < count {
            guard ContinuousClock.now < deadline, !ended else {
                throw LiveTestError("got \(texts.count) of \(count) frames; last: \(texts.last ?? "none")")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return Array(texts.prefix(count))
    }

    func send(_ text: String) async throws {
        try await outbound?.write(.text(text))
    }

    /// Closes from the client side: sends a close and waits for the connection to
    /// end, at most `timeout`; then gives up on it (cancels the client) rather than
    /// let a test hang.
    func close(timeout: Duration = .seconds(5)) async {
        // Not awaited here: should sending the close itself stall, the deadline still holds.
        let outbound = self.outbound
        Task { try? await outbound?.close(.normalClosure, reason: nil) }
        _ = await waitForEnd(timeout: timeout)
        if !ended {
            // A clue should a close ever stall, not a failure of the test at hand.
            print("LiveClient: the close handshake did not end in \(timeout); \(texts.count) frames received, last: \(texts.last?.prefix(200) ?? "none")")
        }
        task?.cancel()
    }

    /// Waits for the server to end the connection; returns its close frame.
    func waitForEnd(timeout: Duration = .seconds(10)) async -> WebSocketCloseFrame? {
        let deadline = ContinuousClock.now + timeout
        while !ended, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        return closeFrame
    }
}

struct LiveTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }

    static func parse(_ text: String) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw LiveTestError("not a JSON object: \(text)")
        }
        return object
    }
}

/// A hand-made WebSocket client over a raw TCP connection, for peers that
/// misbehave: never read, never answer pings, vanish without a close.
///
/// Its blocking calls run on a thread of their own (`open`, `readRest`): the
/// server answers upgrades from Swift's cooperative pool, which a blocked test
/// thread would starve on two cores.
final class RawWebSocket: Sendable {
    static func open(port: Int, query: String = "", headers: [String: String] = [:], receiveBuffer: Int32? = nil) async throws -> RawWebSocket {
        try await offThePool { try RawWebSocket(port: port, query: query, headers: headers, receiveBuffer: receiveBuffer) }
    }

    func readRest(limit: Int = 4096) async -> String {
        (try? await Self.offThePool { String(decoding: self.connection.read(limit: limit), as: UTF8.self) }) ?? ""
    }

    /// What the server has sent (waiting until something comes, at most 5 s), up to `limit` bytes; empty at the end.
    func read(limit: Int) async -> [UInt8] {
        (try? await Self.offThePool { self.connection.read(limit: limit) }) ?? []
    }

    /// Every byte the server sends until it closes the connection, or until `atLeast` have come.
    func readToEnd(atLeast: Int = .max) async -> [UInt8] {
        (try? await Self.offThePool {
            var bytes = [UInt8]()
            while bytes.count < atLeast, case let chunk = self.connection.read(limit: 65_536), !chunk.isEmpty { bytes += chunk }
            return bytes
        }) ?? []
    }

    static func offThePool<T: Sendable>(_ body: @Sendable @escaping () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread { continuation.resume(with: Result { try body() }) }
        }
    }

    let connection: RawTCPConnection
    let status: Int
    let response: String

    /// Connects and sends an upgrade.
    private init(port: Int, query: String, headers: [String: String], receiveBuffer: Int32?) throws {
        connection = try RawTCPConnection(port: port, receiveBuffer: receiveBuffer)
        connection.send(
            "GET /ws/metrics\(query.isEmpty ? "" : "?" + query) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                + headers.map { "\($0.key): \($0.value)\r\n" }.joined() + "\r\n"
        )
        // Read the response head byte by byte, so that no WebSocket frame is consumed with it.
        var head = [UInt8]()
        var byte: UInt8 = 0
        while !head.reversed().starts(with: Array("\n\r\n\r".utf8)), connection.readByte(&byte) {
            head.append(byte)
        }
        response = String(decoding: head, as: UTF8.self)
        status = Int(response.split(separator: " ").dropFirst().first ?? "") ?? 0
    }

    /// Drops the connection without a close frame, like a peer that vanishes.
    func drop() {
        connection.drop()
    }
}

/// Runs `body` against a gateway with no background sources, on a scratch
/// database in a directory of its own, served on a free loopback port.
func withTestGateway(
    _ configure: (inout AppConfiguration) -> Void = { _ in },
    _ body: @Sendable @escaping (Gateway, any TestClientProtocol) async throws -> Void
) async throws {
    let directory = NSTemporaryDirectory() + "pulsegate-gateway-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var configuration = liveTestConfiguration(directory: directory)
    configure(&configuration)
    let gateway = try await buildApplication(configuration, logger: quietTestLogger)
    try await gateway.application.test(.live) { client in
        let result = await Result { try await body(gateway, client) }
        // What the gateway's own service group does before its HTTP server stops
        // (`LiveHubService`, which `.live` does not run): end every live connection.
        // The server's graceful shutdown waits for open WebSocket connections, and a
        // test that left one open would otherwise hang here.
        gateway.hub.shutdown()
        let deadline = ContinuousClock.now + .seconds(5)
        while gateway.hub.statistics.connected > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        try result.get()
    }
}


/// Warnings and errors only, so that test output shows what matters.
let quietTestLogger: Logger = {
    var logger = Logger(label: "pulsegate.test")
    logger.logLevel = .warning
    return logger
}()

/// A gateway with no background sources, on a scratch database, for live tests.
func liveTestConfiguration(directory: String, live: LiveConfiguration = LiveConfiguration(), pingInterval: Duration = .seconds(15)) -> AppConfiguration {
    AppConfiguration(
        host: "127.0.0.1", port: 0,
        // Tests push samples at fixed dates (2025-11-30 among them): retention, which
        // runs as the gateway starts, must not race them away.
        store: StoreConfiguration(path: directory + "/live.sqlite", retention: .seconds(100 * 365 * 86_400), rollupRetention: .seconds(100 * 365 * 86_400)),
        live: live,
        // HummingbirdTesting's live client keeps one connection for a whole test and
        // does not open another when the server closes it: a test that waits longer
        // than the idle bound (`--request-head-timeout`, 10 s) between two requests
        // would find it closed. The bound's own tests set a short one.
        http: HTTPLimits(requestHeadTimeout: .seconds(600)),
        pingInterval: pingInterval,
        collectInterval: nil,
        publicDirectory: directory + "/public"
    )
}

/// Later than the start of any hub in this test run: the ring only promises samples after its start.
let testEpoch = Timestamp.now() + 3_600_000

func testBatch(_ index: Int, metric: String = "live_test", series: Int = 2) -> [Sample] {
    (0..<series).map { Sample(metric: metric, labels: ["s": "\($0)"], timestamp: testEpoch + Int64(index) * 1000, value: Double(index)) }
}

func seqs(_ frames: [[String: Any]], type: String = "samples") -> [Int] {
    frames.filter { $0["type"] as? String == type }.map { $0["seq"] as! Int }
}
