import CZlib
import Foundation
import PulseCore
import PulseLive
import PulseServer
import PulseTestSupport
import Testing

/// permessage-deflate (RFC 7692) through a real server, from a raw socket that
/// inflates what it gets with zlib itself: negotiated without context
/// takeover, frames compressed (RSV1) and each one whole on its own, the same
/// bytes for every client with the same subscription, the client's own
/// compressed messages read, and its bad ones refused.
@Suite struct LiveCompressionTests {
    static let offer = ["Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits"]

    @Test func aClientThatOffersDeflateGetsCompressedFramesEachWholeOnItsOwn() async throws {
        try await withTestGateway { gateway, client in
            let port = try #require(client.port)
            let first = try await RawWebSocket.open(port: port, headers: Self.offer)
            let second = try await RawWebSocket.open(port: port, headers: Self.offer)
            let plain = try await RawWebSocket.open(port: port)
            let extensions = first.response.lowercased().split(separator: "\r\n").first { $0.hasPrefix("sec-websocket-extensions:") }
            #expect(extensions == "sec-websocket-extensions: permessage-deflate; server_no_context_takeover; client_no_context_takeover")
            #expect(!plain.response.lowercased().contains("sec-websocket-extensions"), "no extension for a client that offered none")
            // Subscribed once the hello is in (each hello differs: its own server_ts).
            for socket in [first, second, plain] { _ = try await Self.frames(socket, count: 1) }
            for index in 1...3 {
                try await gateway.pipeline.accept(testBatch(index, series: 50), from: .ingest, durability: .buffered)
            }
            let compressed = try await Self.frames(first, count: 3)
            let again = try await Self.frames(second, count: 3)
            let uncompressed = try await Self.frames(plain, count: 3)
            #expect(compressed.allSatisfy { $0.compressed }, "every samples frame compressed")
            #expect(!uncompressed.contains { $0.compressed })
            #expect(compressed.map(\.payload) == again.map(\.payload), "the same bytes for both clients: compressed once")
            // Each inflates alone (no context from the frame before), to the text the plain client got.
            for (deflated, text) in zip(compressed, uncompressed) {
                #expect(try Self.inflate(deflated.payload) == text.payload)
            }
            let wire = compressed.map(\.payload.count).reduce(0, +)
            let raw = uncompressed.map(\.payload.count).reduce(0, +)
            print("samples frames of 50 series: \(raw) bytes as text, \(wire) compressed (\(String(format: "%.2f", Double(wire) / Double(raw))))")
            #expect(wire * 3 < raw, "compression shrinks a typical frame to less than a third")
        }
    }

    @Test func compressedClientMessagesAreReadAndBadOnesRefused() async throws {
        try await withTestGateway { gateway, client in
            let port = try #require(client.port)
            func exchange(_ frames: [UInt8]) async throws -> ServerFrames {
                let socket = try await RawWebSocket.open(port: port, headers: Self.offer)
                _ = try await Self.frames(socket, count: 1)  // the hello
                socket.connection.send(bytes: frames)
                socket.connection.send(bytes: WebSocketProtocolTests.close(1000))
                return ServerFrames(await socket.readToEnd())
            }
            let subscribe = Array(#"{"type":"subscribe","metrics":["live_test"]}"#.utf8)
            let socket = try await RawWebSocket.open(port: port, headers: Self.offer)
            _ = try await Self.frames(socket, count: 1)  // the hello
            socket.connection.send(bytes: WebSocketProtocolTests.frame(0x1, Self.deflate(subscribe), rsv: 4))
            let answer = try #require(try await Self.frames(socket, count: 1).first)
            let text = String(decoding: answer.compressed ? try Self.inflate(answer.payload) : answer.payload, as: UTF8.self)
            #expect(text.contains(#""type":"subscribed""#), "the compressed subscribe was read: \(text)")

            // A bomb: a few hundred bytes that inflate beyond the 16 KiB bound.
            let bomb = try await exchange(WebSocketProtocolTests.frame(0x1, Self.deflate(Array(repeating: 0x20, count: 1 << 20)), rsv: 4))
            #expect(bomb.frames.last?.closeCode == 1009)
            let corrupt = try await exchange(WebSocketProtocolTests.frame(0x1, [0xFF, 0xFF, 0xFF, 0x00, 0x01], rsv: 4))
            #expect(corrupt.frames.last?.closeCode == 1007)
            let onContinuation = try await exchange(
                WebSocketProtocolTests.frame(0x1, Self.deflate(subscribe), fin: false, rsv: 4) + WebSocketProtocolTests.frame(0x0, [], rsv: 4)
            )
            #expect(onContinuation.frames.last?.closeCode == 1002, "RSV1 only on a message's first frame")
            let onControl = try await exchange(WebSocketProtocolTests.frame(0x9, [1], rsv: 4))
            #expect(onControl.frames.last?.closeCode == 1002, "RSV1 never on a control frame")
            let scrape = try await MetricsTests.scrape(client)
            #expect(scrape[#"pulsegate_ws_messages_rejected_total{reason="too_large"}"#] == 1)
            #expect(scrape[#"pulsegate_ws_messages_rejected_total{reason="protocol_violation"}"#] == 3)
        }
    }

    @Test func offersTheServerCannotHonourAreDeclinedAndTheFlagTurnsCompressionOff() async throws {
        try await withTestGateway { _, client in
            let port = try #require(client.port)
            for offer in [
                "permessage-deflate; server_max_window_bits=10",  // a frame compressed once cannot honour each client's window
                "permessage-deflate; unknown_parameter",
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                "x-webkit-deflate-frame",
            ] {
                let socket = try await RawWebSocket.open(port: port, headers: ["Sec-WebSocket-Extensions": offer])
                #expect(socket.status == 101 && !socket.response.lowercased().contains("sec-websocket-extensions"), "\(offer)")
            }
            let second = try await RawWebSocket.open(port: port, headers: ["Sec-WebSocket-Extensions": "foo, permessage-deflate; server_max_window_bits=15"])
            #expect(second.response.contains("permessage-deflate"), "a later acceptable offer in the list is taken")
        }
        try await withTestGateway({ $0.liveCompression = false }) { _, client in
            let socket = try await RawWebSocket.open(port: try #require(client.port), headers: Self.offer)
            #expect(socket.status == 101 && !socket.response.lowercased().contains("sec-websocket-extensions"), "--no-live-compression")
        }
    }

    /// The first `count` frames on a raw socket.
    static func frames(_ socket: RawWebSocket, count: Int) async throws -> [ServerFrames.Frame] {
        var wire = ServerFrames()
        while wire.frames.count < count {
            let bytes = await socket.read(limit: 65_536)
            guard !bytes.isEmpty else { throw LiveTestError("\(wire.frames.count) of \(count) frames") }
            wire.append(bytes)
        }
        return Array(wire.frames.prefix(count))
    }

    /// Raw deflate with a sync flush, its 00 00 FF FF cut off, as a permessage-deflate sender does.
    static func deflate(_ input: [UInt8]) -> [UInt8] {
        var stream = z_stream()
        deflateInit2_(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { deflateEnd(&stream) }
        var input = input
        var output = [UInt8](repeating: 0, count: input.count + 1024)
        let produced = input.withUnsafeMutableBufferPointer { inputBytes in
            output.withUnsafeMutableBufferPointer { outputBytes in
                stream.next_in = inputBytes.baseAddress
                stream.avail_in = uInt(inputBytes.count)
                stream.next_out = outputBytes.baseAddress
                stream.avail_out = uInt(outputBytes.count)
                CZlib.deflate(&stream, Z_SYNC_FLUSH)
                return outputBytes.count - Int(stream.avail_out)
            }
        }
        return Array(output[0..<(produced - 4)])
    }

    /// A permessage-deflate payload inflated on its own, with a fresh stream.
    static func inflate(_ payload: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        inflateInit2_(&stream, -MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        defer { inflateEnd(&stream) }
        var input = payload + [0x00, 0x00, 0xFF, 0xFF]
        var output = [UInt8](repeating: 0, count: 1 << 22)
        let (status, produced) = input.withUnsafeMutableBufferPointer { inputBytes in
            output.withUnsafeMutableBufferPointer { outputBytes in
                stream.next_in = inputBytes.baseAddress
                stream.avail_in = uInt(inputBytes.count)
                stream.next_out = outputBytes.baseAddress
                stream.avail_out = uInt(outputBytes.count)
                return (CZlib.inflate(&stream, Z_SYNC_FLUSH), outputBytes.count - Int(stream.avail_out))
            }
        }
        guard status == Z_OK || status == Z_STREAM_END, stream.avail_in == 0 else { throw LiveTestError("inflate: \(status)") }
        return Array(output[0..<produced])
    }
}
