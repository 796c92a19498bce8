import Foundation
import NIOCore
import PulseCore
@testable import PulseLive
import Testing

/// The hub on its own: fan-out, filters, replay, overflow, shutdown.
@Suite struct LiveHubTests {
    static func batch(_ index: Int, metric: String = "m", series: Int = 2) -> [Sample] {
        (0..<series).map { Sample(metric: metric, labels: ["s": "\($0)"], timestamp: 1_000_000 + Int64(index) * 1000, value: Double(index)) }
    }

    /// Takes what is queued for a subscription without waiting.
    static func drain(_ subscription: LiveSubscription) async -> [[String: Any]] {
        var frames: [[String: Any]] = []
        while subscription.queuedFrames > 0, case let .frame(buffer)? = await subscription.next() {
            frames.append(try! JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as! [String: Any])
        }
        return frames
    }

    static func seqs(_ frames: [[String: Any]], type: String = "samples") -> [Int] {
        frames.filter { $0["type"] as? String == type }.map { $0["seq"] as! Int }
    }

    @Test func helloThenEveryBatchInOrder() async {
        let hub = LiveHub()
        hub.publish(Self.batch(0), from: .collector)
        let subscription = hub.subscribe(filter: .everything)
        for index in 1...5 { hub.publish(Self.batch(index), from: .collector) }
        let frames = await Self.drain(subscription)
        #expect(frames.first?["type"] as? String == "hello")
        #expect(frames.first?["seq"] as? Int == 1)
        #expect(frames.first?["instance"] as? String == hub.instance)
        #expect(Self.seqs(frames) == [2, 3, 4, 5, 6])
        let samples = frames[1]["samples"] as! [[String: Any]]
        #expect(samples.count == 2)
        #expect(samples[0]["metric"] as? String == "m")
        #expect(samples[0]["labels"] as? [String: String] == ["s": "0"])
        #expect(samples[0]["ts"] as? Int == 1_001_000)
        subscription.cancel()
        #expect(hub.statistics.connected == 0)
    }

    @Test func aFrameIsEncodedOncePerFilterAndSharedByItsSubscribers() async {
        let hub = LiveHub()
        let a = hub.subscribe(filter: .everything)
        let b = hub.subscribe(filter: .everything)
        let other = try! SubscriptionFilter.parse(["m"]).get()
        let c = hub.subscribe(filter: other)
        for subscription in [a, b, c] { _ = await subscription.next() }  // hello
        hub.publish(Self.batch(1), from: .collector)
        func storage(_ subscription: LiveSubscription) async -> UnsafeRawPointer? {
            guard case let .frame(buffer)? = await subscription.next() else { return nil }
            return buffer.withUnsafeReadableBytes { UnsafeRawPointer($0.baseAddress) }
        }
        let (pa, pb, pc) = (await storage(a), await storage(b), await storage(c))
        #expect(pa != nil && pa == pb, "the same bytes for the same filter")
        #expect(pc != nil && pc != pa, "another filter has its own encoding")
    }

    @Test func filtersSelectMetricsByNameOrPrefix() async {
        let hub = LiveHub()
        let cpu = hub.subscribe(filter: try! SubscriptionFilter.parse(["host_cpu_*", "up"]).get())
        hub.publish(Self.batch(1, metric: "host_cpu_usage_ratio") + Self.batch(1, metric: "host_memory_used_bytes") + Self.batch(1, metric: "up"), from: .collector)
        hub.publish(Self.batch(2, metric: "host_memory_used_bytes"), from: .collector)
        let frames = await Self.drain(cpu)
        #expect(Self.seqs(frames) == [1], "a batch with nothing for this filter sends nothing")
        let metrics = Set((frames[1]["samples"] as! [[String: Any]]).map { $0["metric"] as! String })
        #expect(metrics == ["host_cpu_usage_ratio", "up"])

        cpu.update(try! SubscriptionFilter.parse(["host_memory_*"]).get())
        hub.publish(Self.batch(3, metric: "host_memory_used_bytes") + Self.batch(3, metric: "host_cpu_usage_ratio"), from: .collector)
        let after = await Self.drain(cpu)
        #expect(after.first?["type"] as? String == "subscribed")
        #expect(after.first?["metrics"] as? [String] == ["host_memory_*"])
        #expect(Set((after[1]["samples"] as! [[String: Any]]).map { $0["metric"] as! String }) == ["host_memory_used_bytes"])
    }

    @Test func resumeBySeqReplaysExactlyWhatWasMissed() async {
        let hub = LiveHub()
        for index in 1...10 { hub.publish(Self.batch(index), from: .collector) }
        let subscription = hub.subscribe(filter: .everything, resume: .sequence(6, instance: hub.instance, fallbackTimestamp: nil))
        hub.publish(Self.batch(11), from: .collector)
        let frames = await Self.drain(subscription)
        #expect(frames.first?["type"] as? String == "hello")
        #expect(frames.first?["seq"] as? Int == 6)
        #expect(Self.seqs(frames) == [7, 8, 9, 10, 11], "no gap, no duplicate")
        #expect(hub.statistics.replaysServed == 1)
    }

    @Test func resumeByTimestampReplaysLaterSamples() async {
        let hub = LiveHub(start: 0)
        for index in 1...5 { hub.publish(Self.batch(index), from: .collector) }
        let subscription = hub.subscribe(filter: .everything, resume: .timestamp(1_003_000))
        let frames = await Self.drain(subscription)
        #expect(Self.seqs(frames) == [4, 5])
        let timestamps = frames.dropFirst().flatMap { ($0["samples"] as! [[String: Any]]).map { $0["ts"] as! Int } }
        #expect(timestamps.allSatisfy { $0 > 1_003_000 })
    }

    @Test func resumeBeyondTheRingSaysResetAndFromWhere() async {
        let hub = LiveHub(configuration: LiveConfiguration(ringSamples: 6), start: 0)
        for index in 1...10 { hub.publish(Self.batch(index), from: .collector) }  // 2 samples each: the ring keeps 8, 9, 10
        #expect(hub.coverage.oldestSeq == 8)
        #expect(hub.coverage.completeFromTimestamp == 1_007_000)
        let subscription = hub.subscribe(filter: .everything, resume: .sequence(3, instance: hub.instance, fallbackTimestamp: nil))
        let frames = await Self.drain(subscription)
        #expect(frames.map { $0["type"] as! String } == ["hello", "reset", "samples", "samples", "samples"])
        #expect(frames[1]["complete_from_ts"] as? Int == 1_007_000)
        #expect(Self.seqs(frames) == [8, 9, 10])
        let seqs = frames.map { $0["seq"] as! Int }
        #expect(seqs == seqs.sorted(), "seq never goes back")
        #expect(hub.statistics.resetsServed == 1)

        let byTime = hub.subscribe(filter: .everything, resume: .timestamp(1_002_000))
        #expect(await Self.drain(byTime).map { $0["type"] as! String } == ["hello", "reset", "samples", "samples", "samples"])
    }

    @Test func anotherInstanceFallsBackToTheTimestamp() async {
        let hub = LiveHub(start: 0)
        for index in 1...5 { hub.publish(Self.batch(index), from: .collector) }
        let fallback = hub.subscribe(filter: .everything, resume: .sequence(99, instance: "an-old-instance", fallbackTimestamp: 1_004_000))
        #expect(Self.seqs(await Self.drain(fallback)) == [5])
        let none = hub.subscribe(filter: .everything, resume: .sequence(3, instance: "an-old-instance", fallbackTimestamp: nil))
        #expect(await Self.drain(none).map { $0["type"] as! String }.prefix(2) == ["hello", "reset"])
        let future = hub.subscribe(filter: .everything, resume: .sequence(99, instance: hub.instance, fallbackTimestamp: nil))
        #expect(await Self.drain(future).map { $0["type"] as! String }.prefix(2) == ["hello", "reset"], "a seq this server never sent")
    }

    @Test func aFullOutboxDropsForThatSubscriberOnlyAndReportsTheGap() async {
        let hub = LiveHub(configuration: LiveConfiguration(outboxFrames: 4, slowClientTimeout: .seconds(3600)))
        let slow = hub.subscribe(filter: .everything)
        let fast = hub.subscribe(filter: .everything)
        _ = await fast.next()  // hello
        for index in 1...10 {
            hub.publish(Self.batch(index), from: .collector)
            _ = await fast.next()
        }
        #expect(hub.statistics.framesDropped == 7, "hello + 3 frames fill the slow outbox; 7 of 10 are dropped")
        #expect(fast.queuedFrames == 0)
        let before = await Self.drain(slow)
        #expect(before.map { $0["type"] as! String } == ["hello", "samples", "samples", "samples"])
        // Room again: the next frame is preceded by what was missed.
        hub.publish(Self.batch(11), from: .collector)
        let frames = before + (await Self.drain(slow))
        #expect(frames.map { $0["type"] as! String } == ["hello", "samples", "samples", "samples", "gap", "samples"])
        let gap = frames[4]
        #expect(gap["dropped"] as? Int == 7)
        #expect(gap["from_seq"] as? Int == 4)
        #expect(gap["seq"] as? Int == 10)
        #expect(gap["from_ts"] as? Int == 1_004_000)
        #expect(gap["to_ts"] as? Int == 1_010_000)
        #expect(Self.seqs(frames) == [1, 2, 3, 11])
    }

    @Test func aSubscriberBehindForTooLongIsClosed() async throws {
        let hub = LiveHub(configuration: LiveConfiguration(outboxFrames: 2, slowClientTimeout: .milliseconds(100)))
        let slow = hub.subscribe(filter: .everything)
        for index in 1...3 { hub.publish(Self.batch(index), from: .collector) }
        try await Task.sleep(for: .milliseconds(150))
        hub.publish(Self.batch(4), from: .collector)
        guard case let .close(reason)? = await slow.next() else {
            Issue.record("expected a close")
            return
        }
        #expect(reason == .tooSlow(dropped: 3))
        #expect(hub.statistics.slowClientsClosed == 1)
    }

    @Test func shutdownSendsWhatIsQueuedThenGoingAway() async {
        let hub = LiveHub()
        let subscription = hub.subscribe(filter: .everything)
        hub.publish(Self.batch(1), from: .collector)
        hub.shutdown()
        hub.publish(Self.batch(2), from: .collector)
        var kinds: [String] = []
        while let item = await subscription.next() {
            switch item {
            case .frame: kinds.append("frame")
            case let .close(reason): kinds.append("close \(reason)"); subscription.cancel()
            }
            if kinds.count > 5 { break }
        }
        #expect(kinds == ["frame", "frame", "close goingAway"])
        #expect(!hub.reserveConnection(), "a closed hub takes no one")
    }

    @Test func reservationsBoundConnections() {
        let hub = LiveHub(configuration: LiveConfiguration(maxConnections: 2))
        #expect(hub.reserveConnection())
        let first = hub.subscribe(filter: .everything)
        #expect(hub.reserveConnection())
        #expect(!hub.reserveConnection())
        #expect(hub.statistics.connectionsRefused == 1)
        first.cancel()
        _ = hub.subscribe(filter: .everything)  // claims the reservation: one connected
        #expect(hub.reserveConnection())
        #expect(!hub.reserveConnection())
    }

    @Test func cancellingAWaitingSubscriberEndsIt() async throws {
        let hub = LiveHub()
        let subscription = hub.subscribe(filter: .everything)
        _ = await subscription.next()
        let waiting = Task { await subscription.next() }
        try await Task.sleep(for: .milliseconds(50))
        waiting.cancel()
        #expect(await waiting.value == nil)
    }
}
