import Foundation
import PulseCore
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
