import Foundation
@testable import PulseCore
import Testing

@Suite struct LiveProtocolTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    @Test func samplesFrameIsJSONWithHostileLabels() throws {
        let hostile = "quote\" back\\ nl\n tab\t nul\u{0} 🚀 </script>"
        let frame = LiveFrame.samples(seq: 7, serverTime: 1_700_000_000_123.4567, samples: [
            Sample(metric: "m", labels: ["v": hostile], timestamp: 1_700_000_000_000, value: 0.1),
            Sample(metric: "n", timestamp: 1, value: -2e-300),
        ])
        let object = try json(frame)
        #expect(object["type"] as? String == "samples")
        #expect(object["seq"] as? Int == 7)
        #expect(frame.contains(#""server_ts":1700000000123.457"#))
        let samples = try #require(object["samples"] as? [[String: Any]])
        #expect((samples[0]["labels"] as? [String: String])?["v"] == hostile)
        #expect(samples[0]["value"] as? Double == 0.1)
        #expect(samples[1]["value"] as? Double == -2e-300)
        #expect(samples[1]["labels"] as? [String: String] == [:])
    }

    /// A cluster node reads other nodes' batches back from their frames: the
    /// one-pass scanner and the general JSON reader give the batch that was
    /// written, to the bit; the scanner takes every frame without an escape,
    /// and leaves the others (and anything malformed) to the general reader.
    @Test func samplesFramesReadBackExactlyTheFastWayAndTheGeneralOne() throws {
        let plain: [Sample] = (0..<60).map { index in
            Sample(metric: "bench_\(index % 3)", labels: ["host": "h\(index % 4)", "zone": "é🚀"], timestamp: -5 + Int64(index) * 1_000_003, value: [0.1, -0.0, 1e-300, 1.7976931348623157e308, 42, -3.25][index % 6])
        } + [Sample(metric: "bare", timestamp: Int64.min + 1, value: 5e-324), Sample(metric: "bare", timestamp: Int64.max, value: -1)]
        let hostile = [Sample(metric: "m", labels: ["v": "quote\" back\\ nl\n nul\u{0}"], timestamp: 1, value: 2)]
        for (samples, fast) in [(plain, true), ([], true), (hostile, false), (plain + hostile, false)] {
            let batch = PublishedBatch(seq: 18_446_744_073_709_551_615, serverTime: 1_764_470_002_001.123, samples: samples)
            let frame = LiveFrame.samples(seq: batch.seq, serverTime: batch.serverTime, samples: batch.samples)
            #expect(LiveFrame.decodeSamples(frame) == batch)
            #expect(LiveFrame.decodeSamplesAsJSON(frame) == batch)
            #expect((SamplesFrameScanner.decode(frame) != nil) == fast, "\(samples.count) samples: \(frame.prefix(300))")
            if fast { #expect(SamplesFrameScanner.decode(frame) == batch) }
            // Cut anywhere, or with a byte changed, it is refused, never misread.
            for cut in stride(from: 0, to: frame.utf8.count - 1, by: 97) {
                #expect(LiveFrame.decodeSamples(String(decoding: frame.utf8.prefix(cut), as: UTF8.self)) == nil)
            }
        }
        let frame = LiveFrame.samples(seq: 1, serverTime: 1, samples: plain)
        for bad in [frame.replacingOccurrences(of: #""ts":"#, with: #""ts":x"#), frame.replacingOccurrences(of: "]}", with: "]"),
                    frame.replacingOccurrences(of: #""seq":1"#, with: #""seq":-1"#)] {
            #expect(LiveFrame.decodeSamples(bad) == nil, "\(bad.prefix(80))")
        }
    }

    @Test func controlFramesAreJSON() throws {
        let coverage = RingCoverage(oldestSeq: 3, newestSeq: 9, completeFromTimestamp: 42)
        let hello = try json(LiveFrame.hello(seq: 9, instance: "abc", headSeq: 9, ring: coverage, serverTime: 5))
        #expect(hello["type"] as? String == "hello")
        #expect((hello["ring"] as? [String: Int]) == ["oldest_seq": 3, "newest_seq": 9, "complete_from_ts": 42])
        #expect(try json(LiveFrame.reset(seq: 2, completeFromTimestamp: 42, reason: "r\"")) ["reason"] as? String == "r\"")
        #expect(try json(LiveFrame.gap(seq: 5, dropped: 3, fromSeq: 3, fromTimestamp: 1, toTimestamp: 2))["dropped"] as? Int == 3)
        #expect(try json(LiveFrame.error(seq: 1, message: "bad\nthing"))["error"] as? String == "bad\nthing")
        let filter = try SubscriptionFilter.parse(["b*", "a", "a"]).get()
        #expect(try json(LiveFrame.subscribed(seq: 1, filter: filter))["metrics"] as? [String] == ["a", "b*"])
    }

    /// Each parses to itself, and matches what it says: a name exactly, a prefix before `*`.
    @Test(arguments: [
        ("up", ["up"], ["upper", "u", "down"]), ("host_cpu_*", ["host_cpu_", "host_cpu_user"], ["host_cpu", "host_mem_used"]),
        ("*", ["a", "host_cpu_user"], []), ("a:b*", ["a:b", "a:bc"], ["a:", "ab"]),
    ])
    func acceptsPatterns(_ text: String, _ matching: [String], _ notMatching: [String]) throws {
        let pattern = try MetricPattern.parse(text).get()
        #expect(pattern.text == text)
        for metric in matching { #expect(pattern.matches(metric), "\(text) should match \(metric)") }
        for metric in notMatching { #expect(!pattern.matches(metric), "\(text) should not match \(metric)") }
    }

    @Test(arguments: ["", "**", "a*b", "*a", "bad-name", "a b*", "ü*", String(repeating: "a", count: 300)])
    func refusesPatterns(_ text: String) {
        #expect(throws: SampleProblem.self) { try MetricPattern.parse(text).get() }
    }

    @Test func patternsMatch() throws {
        let filter = try SubscriptionFilter.parse(["host_*", "up"]).get()
        #expect(filter.matches("host_cpu"))
        #expect(filter.matches("up"))
        #expect(!filter.matches("upper"))
        #expect(SubscriptionFilter.everything.matches("anything"))
        #expect(try SubscriptionFilter.parse(["*"]).get().matches("x"))
    }

    @Test func tooManyPatternsAreRefused() {
        #expect(throws: RejectedPatterns.self) { try SubscriptionFilter.parse((0...64).map { "m\($0)" }).get() }
    }

    @Test func decodesSubscribe() throws {
        let message = try LiveClientMessage.decode(#"{"type":"subscribe","metrics":["host_*"]}"#).get()
        #expect(message == .subscribe(try SubscriptionFilter.parse(["host_*"]).get()))
    }

    @Test(arguments: [
        "", "not json", "[]", "{}", #"{"type":1}"#, #"{"type":"unsubscribe"}"#, #"{"type":"subscribe"}"#,
        #"{"type":"subscribe","metrics":"x"}"#, #"{"type":"subscribe","metrics":["bad-name"]}"#, "{\"type\":\"subscribe\",\"metrics\":[\"a\"]",
    ])
    func malformedMessagesSayWhy(_ text: String) {
        guard case let .failure(error) = LiveClientMessage.decode(text) else {
            Issue.record("\(text) was accepted")
            return
        }
        #expect(!error.description.isEmpty)
    }
}
