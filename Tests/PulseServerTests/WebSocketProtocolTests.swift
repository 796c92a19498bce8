import Foundation
import PulseCore
import PulseLive
import PulseServer
import PulseTestSupport
import Testing

/// RFC 6455 through a real server, frame by frame, from a raw socket: every
/// violation a client can commit fails its connection with the code the RFC
/// gives, and every legal but unusual thing (control frames between
/// fragments, a close with a reason, pings of 125 bytes) is answered as it
/// should be. The cases follow the Autobahn test suite's (the ids are its
/// case numbers, where it has one). Beside them all, a well-behaved client
/// keeps receiving the stream, every batch, in order.
@Suite struct WebSocketProtocolTests {
    /// What a case expects of the server.
    enum Expectation: Sendable, CustomStringConvertible {
        /// The connection is failed: a close frame with this code, then the end.
        case fails(UInt16)
        /// Pongs with these payloads, in order; the connection then closes normally when asked.
        case pongs([[UInt8]])
        /// Live frames of this type (`error`, `subscribed`), then a normal close.
        case liveFrame(String)
        /// The client's close, answered with this code and the end.
        case closeAnswered(UInt16)

        var description: String {
            switch self {
            case let .fails(code): "fails with \(code)"
            case let .pongs(payloads): "\(payloads.count) pong(s)"
            case let .liveFrame(type): "a \(type) frame"
            case let .closeAnswered(code): "close answered with \(code)"
            }
        }
    }

    struct Case: Sendable {
        let id: String
        /// What the client sends, in writes of its own (a pause between each).
        let writes: [[UInt8]]
        let expect: Expectation

        init(_ id: String, _ bytes: [UInt8], expect: Expectation) {
            self.init(id, writes: [bytes], expect: expect)
        }

        init(_ id: String, writes: [[UInt8]], expect: Expectation) {
            self.id = id
            self.writes = writes
            self.expect = expect
        }
    }

    /// A client frame: masked unless told otherwise, with the length in its shortest form unless `length` says.
    static func frame(
        _ opcode: UInt8, _ payload: [UInt8] = [], fin: Bool = true, rsv: UInt8 = 0, masked: Bool = true, length: UInt64? = nil
    ) -> [UInt8] {
        var bytes: [UInt8] = [(fin ? 0x80 : 0) | (rsv << 4) | opcode]
        let maskBit: UInt8 = masked ? 0x80 : 0
        let count = length ?? UInt64(payload.count)
        switch count {
        case ..<126: bytes.append(maskBit | UInt8(count))
        case ..<65_536: bytes += [maskBit | 126, UInt8(count >> 8), UInt8(count & 0xFF)]
        default: bytes.append(maskBit | 127); bytes += (0..<8).reversed().map { UInt8((count >> (8 * UInt64($0))) & 0xFF) }
        }
        guard masked else { return bytes + payload }
        let mask: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]
        return bytes + mask + payload.enumerated().map { $1 ^ mask[$0 & 3] }
    }

    /// `bytes` cut into writes of `size`.
    static func pieces(_ bytes: [UInt8], of size: Int) -> [[UInt8]] {
        stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min($0 + size, bytes.count)]) }
    }
    static func close(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] { frame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)] + reason) }
    static let subscribe = Array(#"{"type":"subscribe","metrics":["live_test"]}"#.utf8)

    static let cases: [Case] = [
        // 1 Framing: messages the server does not understand get an error frame; the connection stays.
        Case("1.1.1 empty text", frame(0x1), expect: .liveFrame("error")),
        Case("1.2.1 binary", frame(0x2, [1, 2, 3]), expect: .liveFrame("error")),
        Case("1.1.x subscribe", frame(0x1, subscribe), expect: .liveFrame("subscribed")),
        // 2 Pings and pongs.
        Case("2.1 ping, no payload", frame(0x9), expect: .pongs([[]])),
        Case("2.2 ping with text", frame(0x9, Array("Hello, world!".utf8)), expect: .pongs([Array("Hello, world!".utf8)])),
        Case("2.3 ping with binary", frame(0x9, [0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]), expect: .pongs([[0x00, 0xFF, 0xFE, 0xFD, 0xFC, 0xFB, 0x00, 0xFF]])),
        Case("2.4 ping of 125 bytes", frame(0x9, Array(repeating: 0xFE, count: 125)), expect: .pongs([Array(repeating: 0xFE, count: 125)])),
        Case("2.5 ping of 126 bytes", frame(0x9, Array(repeating: 0xFE, count: 126)), expect: .fails(1002)),
        Case("2.6 ping sent in pieces", writes: pieces(frame(0x9, Array(repeating: 0x41, count: 125)), of: 7), expect: .pongs([Array(repeating: 0x41, count: 125)])),
        Case("2.7 unsolicited pong", frame(0xA), expect: .pongs([])),
        Case("2.9 unsolicited pong, then ping", frame(0xA, Array("unsolicited".utf8)) + frame(0x9, Array("ping".utf8)), expect: .pongs([Array("ping".utf8)])),
        Case("2.10 ten pings", (0..<10).flatMap { frame(0x9, Array("ping \($0)".utf8)) }, expect: .pongs((0..<10).map { Array("ping \($0)".utf8) })),
        // 3 Reserved bits (no extension negotiated).
        Case("3.1 RSV1 on text", frame(0x1, subscribe, rsv: 4), expect: .fails(1002)),
        Case("3.2 RSV2 on text", frame(0x1, subscribe, rsv: 2), expect: .fails(1002)),
        Case("3.3 RSV3 on text, after a valid one", frame(0x1, subscribe) + frame(0x1, subscribe, rsv: 1), expect: .fails(1002)),
        Case("3.6 RSV on ping", frame(0x9, [1], rsv: 6), expect: .fails(1002)),
        Case("3.7 every RSV on close", frame(0x8, [0x03, 0xE8], rsv: 7), expect: .fails(1002)),
        // 4 Reserved opcodes.
        Case("4.1.1 opcode 3", frame(0x3), expect: .fails(1002)),
        Case("4.1.5 opcode 7 with payload", frame(0x7, [1, 2, 3]), expect: .fails(1002)),
        Case("4.2.1 opcode 11", frame(0xB), expect: .fails(1002)),
        Case("4.2.5 opcode 15 with payload", frame(0xF, [1, 2, 3]), expect: .fails(1002)),
        // 5 Fragmentation.
        Case("5.1 fragmented ping", frame(0x9, [1], fin: false) + frame(0x0, [2]), expect: .fails(1002)),
        Case("5.2 fragmented pong", frame(0xA, [1], fin: false) + frame(0x0, [2]), expect: .fails(1002)),
        Case("5.3 text in two fragments", frame(0x1, Array(subscribe[..<10]), fin: false) + frame(0x0, Array(subscribe[10...])), expect: .liveFrame("subscribed")),
        Case("5.6 a ping between fragments", frame(0x1, Array(subscribe[..<10]), fin: false) + frame(0x9, [7]) + frame(0x0, Array(subscribe[10...])), expect: .pongs([[7]])),
        Case("5.9 continuation with nothing to continue", frame(0x0, [1, 2], fin: true), expect: .fails(1002)),
        Case("5.10 unfinished continuation first", frame(0x0, [1], fin: false) + frame(0x1, subscribe), expect: .fails(1002)),
        Case("5.18 two text frames that both begin", frame(0x1, [0x7B], fin: false) + frame(0x1, [0x7D]), expect: .fails(1002)),
        // 6 UTF-8.
        Case("6.3.1 invalid UTF-8", frame(0x1, [0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65, 0x64, 0x69, 0x74, 0x65, 0x64]), expect: .fails(1007)),
        Case("6.4.x invalid UTF-8 across fragments", frame(0x1, [0xCE, 0xBA], fin: false) + frame(0x0, [0xF4, 0x90, 0x80, 0x80]), expect: .fails(1007)),
        // κ is no metric name: the error frame that quotes it shows the message was joined whole.
        Case("6.6.x a code point split between fragments", frame(0x1, Array(Array(#"{"type":"subscribe","metrics":["κ"#.utf8).dropLast()), fin: false) + frame(0x0, [0xBA] + Array(#""]}"#.utf8)), expect: .liveFrame("error")),
        Case("6.x overlong encoding", frame(0x1, [0xC0, 0xAF]), expect: .fails(1007)),
        // 7 Closing.
        Case("7.1.1 close", close(1000), expect: .closeAnswered(1000)),
        Case("7.1.3 ping after close is not answered", close(1000) + frame(0x9, [1]), expect: .closeAnswered(1000)),
        Case("7.1.4 text after close is ignored", close(1000) + frame(0x1, subscribe), expect: .closeAnswered(1000)),
        Case("7.3.1 close without a code", frame(0x8), expect: .closeAnswered(1000)),
        Case("7.3.2 close with one byte", frame(0x8, [0x03]), expect: .fails(1002)),
        Case("7.3.4 close with a reason", close(1000, Array("bye".utf8)), expect: .closeAnswered(1000)),
        Case("7.3.5 close with a 123-byte reason", close(1000, Array(repeating: 0x2A, count: 123)), expect: .closeAnswered(1000)),
        Case("7.3.6 close with a 124-byte reason", close(1000, Array(repeating: 0x2A, count: 124)), expect: .fails(1002)),
        Case("7.5.1 close reason not UTF-8", close(1000, [0xCE, 0xBA, 0xED, 0xA0, 0x80]), expect: .fails(1007)),
        Case("7.7.2 close 1001", close(1001), expect: .closeAnswered(1001)),
        Case("7.7.7 close 1008", close(1008), expect: .closeAnswered(1008)),
        Case("7.7.12 close 3000", close(3000), expect: .closeAnswered(3000)),
        Case("7.7.13 close 4999", close(4999), expect: .closeAnswered(4999)),
        Case("7.9.1 close 0", close(0), expect: .fails(1002)),
        Case("7.9.2 close 999", close(999), expect: .fails(1002)),
        Case("7.9.3 close 1004", close(1004), expect: .fails(1002)),
        Case("7.9.4 close 1005", close(1005), expect: .fails(1002)),
        Case("7.9.5 close 1006", close(1006), expect: .fails(1002)),
        Case("7.9.6 close 1016", close(1016), expect: .fails(1002)),
        Case("7.9.9 close 2999", close(2999), expect: .fails(1002)),
        Case("7.13.1 close 5000", close(5000), expect: .fails(1002)),
        Case("7.13.2 close 65535", close(65535), expect: .fails(1002)),
        // 9 Limits, and what Autobahn does not test: masking and lengths.
        Case("9.x a frame beyond the message bound", frame(0x1, Array(repeating: 0x20, count: 16 * 1024 + 1)), expect: .fails(1009)),
        Case("9.x a frame announced beyond the bound, payload never sent", frame(0x1, [], length: 1 << 40), expect: .fails(1009)),
        Case("9.x fragments together beyond the bound", frame(0x1, Array(repeating: 0x20, count: 10_000), fin: false) + frame(0x0, Array(repeating: 0x20, count: 10_000)), expect: .fails(1009)),
        Case("unmasked frame", frame(0x1, subscribe, masked: false), expect: .fails(1002)),
        Case("unmasked ping", frame(0x9, [1], masked: false), expect: .fails(1002)),
        Case("64-bit length with its top bit set", frame(0x1, [], length: 1 << 63), expect: .fails(1002)),
    ]

    @Test func everyCaseIsAnsweredAsTheRFCSaysWhileAWellBehavedClientKeepsReceiving() async throws {
        try await withTestGateway { gateway, client in
            let port = try #require(client.port)
            let reader = try await LiveClient.connect(port: port)
            var published = 0
            // Four at a time: each waits on the server (a pong, a close), not on the machine.
            for group in stride(from: 0, to: Self.cases.count, by: 4) {
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    for item in Self.cases[group..<min(group + 4, Self.cases.count)] {
                        tasks.addTask { try await Self.run(item, port: port) }
                    }
                    published += 1
                    try await gateway.pipeline.accept(testBatch(published), from: .ingest, durability: .buffered)
                    try await tasks.waitForAll()
                }
            }
            let frames = try await reader.frames(published + 1)
            #expect(seqs(frames) == Array(1...published), "the well-behaved client got every batch, in order")
            let figures = try await MetricsTests.scrape(client)
            let violations = Self.cases.filter { if case let .fails(code) = $0.expect { code != 1009 } else { false } }.count
            #expect(figures[#"pulsegate_ws_messages_rejected_total{reason="protocol_violation"}"#] == Double(violations))
            #expect(await eventually(timeout: .seconds(10)) { gateway.hub.statistics.connected == 1 }, "every failed connection left the hub")
            await reader.close()
        }
    }

    /// Runs one case on a connection of its own, and checks what came back.
    static func run(_ item: Case, port: Int) async throws {
        let socket = try await RawWebSocket.open(port: port)
        #expect(socket.status == 101, "\(item.id): upgrade")
        var wire = ServerFrames()
        while !wire.frames.contains(where: { $0.isLive("hello") }) {
            let bytes = await socket.read(limit: 4096)
            guard !bytes.isEmpty else { Issue.record("\(item.id): no hello"); return }
            wire.append(bytes)
        }
        for write in item.writes {
            socket.connection.send(bytes: write)
            if item.writes.count > 1 { try await Task.sleep(for: .milliseconds(5)) }
        }
        switch item.expect {
        case let .fails(code), let .closeAnswered(code):
            // Everything to the end: the close frame must be the last frame, and the connection then closed.
            wire.append(await socket.readToEnd())
            let close = wire.frames.last
            #expect(close?.opcode == 8 && close?.closeCode == Int(code), "\(item.id): \(item.expect), got \(wire.frames.map { ($0.opcode, $0.closeCode ?? -1) })")
            if case .closeAnswered = item.expect {
                #expect(!wire.frames.contains { $0.opcode == 0xA }, "\(item.id): nothing answered after the close")
            }
        case let .pongs(payloads):
            // A ping of our own last, to know when the server has read everything before it.
            socket.connection.send(bytes: frame(0x9, Array("end of case".utf8)))
            let expected = payloads + [Array("end of case".utf8)]
            while wire.frames.filter({ $0.opcode == 0xA }).count < expected.count {
                let bytes = await socket.read(limit: 4096)
                guard !bytes.isEmpty else { break }
                wire.append(bytes)
            }
            #expect(wire.frames.filter { $0.opcode == 0xA }.map(\.payload) == expected, "\(item.id): \(item.expect)")
            #expect(wire.close == nil, "\(item.id): the connection stays open")
            try await closesNormally(socket, item)
        case let .liveFrame(type):
            while !wire.frames.contains(where: { $0.isLive(type) }) {
                let bytes = await socket.read(limit: 4096)
                guard !bytes.isEmpty else { break }
                wire.append(bytes)
            }
            #expect(wire.frames.contains { $0.isLive(type) }, "\(item.id): \(item.expect), got \(wire.texts)")
            try await closesNormally(socket, item)
        }
    }

    /// A normal close from the client: the server answers it with 1000 and closes the connection.
    static func closesNormally(_ socket: RawWebSocket, _ item: Case) async throws {
        socket.connection.send(bytes: close(1000))
        let rest = ServerFrames(await socket.readToEnd())
        #expect(rest.frames.last?.closeCode == 1000, "\(item.id): the normal close is answered")
    }
}
