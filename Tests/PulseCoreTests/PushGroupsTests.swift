@testable import PulseCore
import Synchronization
import Testing

/// The groups' life: PUT and POST, failures, deletes, type conflicts, and expiry.
@Suite struct PushGroupsTests {
    final class Clock: Sendable {
        let now = Mutex<Int64>(1_000_000)
        func advance(_ milliseconds: Int64) { now.withLock { $0 += milliseconds } }
        var read: @Sendable () -> Int64 { { self.now.withLock { $0 } } }
    }

    func key(_ path: String) throws -> GroupingKey { try GroupingKey(path: path[...]) }

    func families(_ text: String, _ path: String = "job/j") throws -> [PushedFamily] {
        try PushgatewayText.read(Array(text.utf8), group: key(path), now: 0, maxSamples: 100, validator: SampleValidator()).get().families
    }

    func names(_ groups: PushGroups, _ path: String = "job/j") throws -> [String] {
        let key = try key(path)
        return groups.list().first { $0.key == key }?.families.keys.sorted() ?? []
    }

    @Test func putReplacesTheGroupAndPostOnlyThePushedFamilies() throws {
        let groups = PushGroups()
        groups.push(try families("a 1\nb 2\n"), to: try key("job/j"), .replaceGroup)
        groups.push(try families("b 3\nc 4\n"), to: try key("job/j"), .replaceFamilies)
        #expect(try names(groups) == ["a", "b", "c"])
        #expect(groups.list()[0].families["b"]?.metrics[0].value == .single(3))
        groups.push(try families("d 5\n"), to: try key("job/j"), .replaceGroup)
        #expect(try names(groups) == ["d"])
        groups.push([], to: try key("job/j"), .replaceGroup)
        let left = try names(groups)
        #expect(groups.count == 1 && left.isEmpty, "an empty PUT leaves the group with its push time alone")
    }

    @Test func aFailedPushStampsTheGroupAndKeepsItsMetrics() throws {
        let clock = Clock()
        let groups = PushGroups(clock: clock.read)
        groups.failed(try key("job/new"))
        var group = try #require(groups.list().first)
        #expect(group.lastPush == nil && group.lastFailure == 1_000_000 && group.families.isEmpty)
        groups.push(try families("a 1\n", "job/new"), to: try key("job/new"), .replaceGroup)
        clock.advance(500)
        groups.failed(try key("job/new"))
        group = try #require(groups.list().first)
        #expect(group.lastPush == 1_000_000 && group.lastFailure == 1_000_500 && group.families.keys.sorted() == ["a"])
        let exposed = groups.exposition().first { $0.name == "push_failure_time_seconds" }!
        #expect(String(decoding: exposed.lines, as: UTF8.self) == "push_failure_time_seconds{instance=\"\",job=\"new\"} 1000.5\n")
    }

    @Test func deleteRemovesOnlyThatGroup() throws {
        let groups = PushGroups()
        groups.push(try families("a 1\n"), to: try key("job/j/instance/x"), .replaceGroup)
        groups.push(try families("a 1\n"), to: try key("job/j"), .replaceGroup)
        #expect(groups.delete(try key("job/j")))
        #expect(!groups.delete(try key("job/j")))
        #expect(groups.list().map(\.key) == [try key("job/j/instance/x")])
    }

    @Test func aFamilyKeepsOneTypeAcrossGroups() throws {
        let groups = PushGroups()
        groups.push(try families("# TYPE m counter\nm 1\n"), to: try key("job/a"), .replaceGroup)
        let conflict = groups.conflict(try families("# TYPE m gauge\nm 1\n", "job/b"), in: try key("job/b"))
        #expect(conflict == "m is a gauge here but a counter in group {job=a}: push it with one type everywhere")
        #expect(groups.conflict(try families("# TYPE m gauge\nm 1\n"), in: try key("job/a")) == nil, "a group may change its own family's type")
        #expect(groups.conflict(try families("# TYPE m counter\nm 1\n", "job/b"), in: try key("job/b")) == nil)
    }

    /// The default TTL, a push's own, and zero for never; expiry counted once per group.
    @Test func groupsExpireAfterTheirTTL() throws {
        let clock = Clock()
        let expired = Mutex(0)
        let groups = PushGroups(defaultTTL: .seconds(10), clock: clock.read, expired: { count in expired.withLock { $0 += count } })
        groups.push(try families("a 1\n", "job/default"), to: try key("job/default"), .replaceGroup)
        groups.push(try families("a 1\n", "job/short"), to: try key("job/short"), .replaceGroup, ttl: .seconds(2))
        groups.push(try families("a 1\n", "job/forever"), to: try key("job/forever"), .replaceGroup, ttl: .zero)
        #expect(groups.list().map { $0.expiresAt } == [1_010_000, nil, 1_002_000])
        clock.advance(2_000)
        #expect(groups.list().map(\.key.job) == ["default", "forever"])
        #expect(expired.withLock { $0 } == 1)
        clock.advance(7_999)
        groups.push(try families("a 2\n", "job/default"), to: try key("job/default"), .replaceFamilies)  // a push renews it
        clock.advance(9_999)
        #expect(groups.count == 2)
        clock.advance(1)
        #expect(groups.list().map(\.key.job) == ["forever"])
        #expect(groups.exposition().flatMap { String(decoding: $0.lines, as: UTF8.self).split(separator: "\n") }.allSatisfy { $0.contains("job=\"forever\"") })
        #expect(expired.withLock { $0 } == 2)
    }

    /// client_golang's order: fewer labels first, then values in label-name order.
    @Test func metricsInClientGolangsOrder() {
        let a = [Label("instance", ""), Label("job", "other")]
        let b = [Label("empty", ""), Label("instance", ""), Label("job", "batch")]
        let c = [Label("instance", ""), Label("job", "z")]
        #expect(PushGroups.precedes(a, b) && PushGroups.precedes(a, c) && !PushGroups.precedes(c, a) && !PushGroups.precedes(a, a))
    }
}
