import Foundation
import HummingbirdTesting
import NIOCore
import PulseCore
import PulseLive
import PulseServer
import PulseTestSupport
import Synchronization
import Testing

/// What a live client that falls behind is told, read off the wire of a real
/// server by a raw socket whose small receive window the test controls; and
/// the live counters at `/metrics`, against the events the test caused.
@Suite struct LiveDeliveryTests {
    func scrape(_ client: any TestClientProtocol) async throws -> MetricsTests.Scrape {
        try await MetricsTests.scrape(client)
    }

    /// Frames the hub has written or dropped for its subscribers.
    static func handled(_ hub: LiveHub) -> Int {
        let statistics = hub.statistics
        return statistics.framesSent + statistics.framesDropped
    }

    /// Publishes batch `index` and waits until the hub has written or dropped it
    /// for the one subscriber (or closed it): no publish is in flight after this.
    static func publish(_ gateway: Gateway, _ index: Int, series: Int) async throws {
        let before = handled(gateway.hub)
        try await gateway.pipeline.accept(testBatch(index, series: series), from: .ingest, durability: .buffered)
        let deadline = ContinuousClock.now + .seconds(30)
        while handled(gateway.hub) == before, gateway.hub.statistics.connected > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// A client that stops reading loses frames; when it reads again, a `gap`
    /// frame names exactly the ones it lost (seqs and sample timestamps) before
    /// the next samples frame, and `/metrics` counts them.
    @Test func aClientThatFallsBehindIsToldExactlyWhatItMissed() async throws {
        let live = LiveConfiguration(outboxBytes: 16 * 1024, slowClientTimeout: .seconds(3600))
        try await withTestGateway({ $0.live = live }) { gateway, client in
            let raw = try await RawWebSocket.open(port: try #require(client.port), receiveBuffer: 4096)
            #expect(raw.status == 101)
            var wire = ServerFrames(await raw.readToEnd(atLeast: 1))  // the hello: subscribed
            #expect(wire.texts.first?.contains(#""type":"hello""#) == true)

            // Not read: batches of 200 samples (about 20 KB) until the hub drops some, then three more.
            var published = 0
            while gateway.hub.statistics.framesDropped == 0, published < 5_000 {
                published += 1
                try await Self.publish(gateway, published, series: 200)
            }
            for _ in 0..<3 {
                published += 1
                try await Self.publish(gateway, published, series: 200)
            }
            let droppedWhileStalled = gateway.hub.statistics.framesDropped
            #expect(droppedWhileStalled >= 4)

            // Read again, until a samples frame comes after a gap; small batches are
            // published until one finds the connection writable again.
            let caughtUp = Flag()
            let reading = Task {
                await raw.read(timeout: .seconds(60)) { frames in
                    guard let gap = frames.frames.lastIndex(where: { $0.isLive("gap") }) else { return false }
                    let done = frames.frames[(gap + 1)...].contains { $0.isLive("samples") }
                    if done { caughtUp.set() }
                    return done
                }
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while !caughtUp.isSet, ContinuousClock.now < deadline {
                published += 1
                try await Self.publish(gateway, published, series: 2)
                try await Task.sleep(for: .milliseconds(50))
            }
            wire.append(await reading.value)
            let frames = try wire.texts.map(LiveTestError.parse)
            let gapIndex = try #require(frames.firstIndex { $0["type"] as? String == "gap" }, "no gap frame in \(frames.count) frames")
            let gap = frames[gapIndex]
            let before = seqs(Array(frames[..<gapIndex]))
            let after = seqs(Array(frames[(gapIndex + 1)...]))
            let fromSeq = try #require(gap["from_seq"] as? Int), toSeq = try #require(gap["seq"] as? Int)
            let dropped = try #require(gap["dropped"] as? Int)
            #expect(before == Array(1..<fromSeq), "delivered before the gap: \(before.first ?? 0)...\(before.last ?? 0)")
            #expect(dropped == toSeq - fromSeq + 1 && dropped >= droppedWhileStalled, "\(gap)")
            #expect(after.first == toSeq + 1, "the next frame follows the gap")
            #expect(after == Array((toSeq + 1)..<(toSeq + 1 + after.count)))
            // testBatch(i) is stamped testEpoch + i s, and batch i has seq i.
            #expect(gap["from_ts"] as? Int == Int(testEpoch) + fromSeq * 1000)
            #expect(gap["to_ts"] as? Int == Int(testEpoch) + toSeq * 1000)
            #expect(frames.filter { $0["type"] as? String == "gap" }.count == 1)

            // Counted: every frame the one client lost, none closed.
            let scrape = try await scrape(client)
            #expect(gateway.hub.statistics.framesDropped == dropped)
            #expect(scrape["pulsegate_ws_frames_dropped_total"] == Double(dropped))
            #expect(scrape["pulsegate_ws_slow_clients_closed_total"] == 0)
            raw.drop()
        }
    }

    /// A client that stays behind past the slow-client timeout is closed with
    /// 1008 and a reason that counts what it lost; the close frame comes after
    /// every frame still queued for it, and `/metrics` counts the close.
    /// A client that answers no ping is closed within two ping intervals, and
    /// counted once; one that answers stays and is not counted.
    @Test func aClientThatMissesAPongIsClosedAndCounted() async throws {
        try await withTestGateway({ $0.pingInterval = .seconds(1) }) { gateway, client in
            let port = try #require(client.port)
            let answering = try await LiveClient.connect(port: port)  // swift-websocket answers pings
            let silent = try await RawWebSocket.open(port: port)
            let wire = ServerFrames(await silent.readToEnd())
            #expect(wire.frames.contains { $0.opcode == 9 } && wire.close?.closeCode == 1001, "pinged, then closed: \(wire.frames.map(\.opcode))")
            #expect(await eventually(timeout: .seconds(10)) { gateway.hub.statistics.connected == 1 })
            #expect(try await scrape(client)["pulsegate_ws_ping_timeouts_total"] == 1)
            await answering.close()
        }
    }

    @Test func aClientBehindForTooLongIsClosedWith1008() async throws {
        let live = LiveConfiguration(outboxBytes: 16 * 1024, slowClientTimeout: .seconds(1))
        try await withTestGateway({ $0.live = live }) { gateway, client in
            let raw = try await RawWebSocket.open(port: try #require(client.port), receiveBuffer: 4096)
            #expect(raw.status == 101)
            let hello = await raw.readToEnd(atLeast: 1)
            // Waits on a thread of its own for the server to give up on this client, then
            // drains at full speed: the close frame, queued behind the backlog, must come
            // through within the close handshake's second.
            let hub = gateway.hub
            let reading = Task {
                await raw.read(timeout: .seconds(60), startingWhen: { hub.statistics.slowClientsClosed > 0 }) { $0.close != nil }
            }
            let stalledFrom = ContinuousClock.now
            var published = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while gateway.hub.statistics.slowClientsClosed == 0, ContinuousClock.now < deadline {
                published += 1
                try await Self.publish(gateway, published, series: 200)
                if gateway.hub.statistics.framesDropped > 0 { try await Task.sleep(for: .milliseconds(100)) }
            }
            let closedAfter = ContinuousClock.now - stalledFrom
            let wire = ServerFrames(hello + (await reading.value))
            let close = try #require(wire.close, "no close frame; \(wire.frames.count) frames")
            let dropped = gateway.hub.statistics.framesDropped
            #expect(close.closeCode == 1008)
            #expect(close.closeReason == "client too slow: \(dropped) frames dropped")
            #expect(wire.frames.last?.opcode == 8, "nothing after the close")
            #expect(closedAfter >= .seconds(1), "closed \(closedAfter) after it stopped reading: not before the timeout")
            let delivered = seqs(try wire.texts.map(LiveTestError.parse))
            #expect(delivered == Array(1...delivered.count), "what came before the close is whole and in order")
            #expect(delivered.count + dropped == published)

            #expect(await eventually(timeout: .seconds(10)) { gateway.hub.statistics.connected == 0 })
            let scrape = try await scrape(client)
            #expect(scrape["pulsegate_ws_slow_clients_closed_total"] == 1)
            #expect(scrape["pulsegate_ws_frames_dropped_total"] == Double(dropped))
            #expect(scrape["pulsegate_ws_clients"] == 0)
        }
    }

    /// Replays and resets, one by one, as `/metrics` counts them.
    @Test func resumesAreCountedByKind() async throws {
        try await withTestGateway({ $0.live = LiveConfiguration(ringSamples: 4) }) { gateway, client in
            let port = try #require(client.port)
            for index in 1...6 { try await gateway.pipeline.accept(testBatch(index), from: .ingest, durability: .buffered) }
            let instance = gateway.hub.instance
            for (query, frames) in [("since=5&instance=\(instance)", 2), ("since=1&instance=\(instance)", 4), ("since=6&instance=\(instance)", 1)] {
                let live = try await LiveClient.connect(port: port, query: query)
                _ = try await live.frames(frames)
                await live.close()
            }
            let scrape = try await scrape(client)
            #expect(scrape["pulsegate_ws_replays_total"] == 2)
            #expect(scrape["pulsegate_ws_resets_total"] == 1)
            #expect(gateway.hub.statistics.replaysServed == 2 && gateway.hub.statistics.resetsServed == 1)
        }
    }

    /// A refused push reaches no live client: a marker pushed after it arrives, the refused samples never do.
    @Test func refusedPushesAreNotBroadcast() async throws {
        try await withTestGateway { _, client in
            let live = try await LiveClient.connect(port: try #require(client.port))
            func push(_ body: String) async throws -> Int {
                try await client.execute(uri: "/ingest", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: body)) { Int($0.status.code) }
            }
            #expect(try await push(#"{"samples":[{"metric":"refused_invalid","value":1},{"metric":"bad-name","value":2}]}"#) == 400)
            #expect(try await push(#"{"samples":[{"metric":"refused_reserved","value":1},{"metric":"pulsegate_fake","value":2}]}"#) == 400)
            #expect(try await push(#"{"samples":[{"metric":"accepted_marker","value":3}]}"#) == 200)
            let frames = try await live.frames(2)
            #expect((frames[1]["samples"] as? [[String: Any]])?.map { $0["metric"] as? String } == ["accepted_marker"])
            #expect(await !live.texts.contains { $0.contains("refused_") || $0.contains("pulsegate_fake") || $0.contains("bad-name") })
            await live.close()
        }
    }
}

extension RawWebSocket {
    /// Reads, on a thread of its own, once `start` holds, until `done` holds for the
    /// frames that came, the server closes, or `timeout` passes; returns every byte read.
    func read(timeout: Duration, startingWhen start: @Sendable @escaping () -> Bool = { true }, until done: @Sendable @escaping (ServerFrames) -> Bool) async -> [UInt8] {
        (try? await Self.offThePool {
            let deadline = ContinuousClock.now + timeout
            while !start(), ContinuousClock.now < deadline { usleep(1000) }
            var bytes = [UInt8]()
            var frames = ServerFrames()
            while ContinuousClock.now < deadline, !done(frames), let chunk = self.connection.readChunk(limit: 65_536) {
                bytes += chunk
                frames.append(chunk)
            }
            return bytes
        }) ?? []
    }
}

/// A flag set on one thread and read on another.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
