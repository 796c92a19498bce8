import Foundation
@testable import PulseCollect
import Testing

/// The `/proc` parsers on fixture files copied from a real Linux machine, and on broken ones.
@Suite struct ProcParserTests {
    static func fixture(_ name: String) throws -> Substring {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/proc/" + name, withExtension: nil))
        return Substring(try String(contentsOf: url, encoding: .utf8))
    }

    @Test func parsesCPUTimes() throws {
        let cpu = try CPUTimes.parse(procStat: Self.fixture("stat"))
        #expect(Set(cpu.keys) == ["all", "0", "1"])
        // user+nice+system+idle+iowait+irq+softirq+steal; guest is inside user already.
        #expect(cpu["all"] == CPUTimes(busy: 10132153 + 290696 + 3084719 + 25195, total: 10132153 + 290696 + 3084719 + 46828483 + 16683 + 25195))
        let earlier = CPUTimes(busy: 100, total: 1000)
        #expect(CPUTimes(busy: 150, total: 1100).usage(since: earlier) == 0.5)
        #expect(CPUTimes(busy: 100, total: 1000).usage(since: earlier) == nil, "no time passed")
    }

    @Test func parsesMemory() throws {
        let memory = try MemoryInfo.parse(Self.fixture("meminfo"))
        #expect(memory.total == 16318048 * 1024)
        #expect(memory.available == 10218392 * 1024)
        #expect(memory.used == (16318048 - 10218392) * 1024)
    }

    @Test func parsesLoadAverage() throws {
        #expect(try LoadAverage.parse(Self.fixture("loadavg")) == LoadAverage(one: 0.52, five: 0.58, fifteen: 0.59))
    }

    @Test func parsesNetworkDevices() throws {
        let devices = try NetworkCounters.parse(Self.fixture("net/dev"))
        #expect(devices["eth0"] == NetworkCounters(receivedBytes: 1215645, transmittedBytes: 1037250))
        #expect(devices["lo"] == NetworkCounters(receivedBytes: 2776770, transmittedBytes: 2776770))
        #expect(devices.count == 2)
    }

    @Test func parsesWhatProcessMetricsNeed() throws {
        #expect(try ProcessStatus.parseStartTicks(Self.fixture("self/stat")) == 123_456)
        #expect(try ProcessStatus.parseBootTime(Self.fixture("stat")) == 1_700_000_000)
        let limits = """
            Limit                     Soft Limit           Hard Limit           Units
            Max processes             unlimited            unlimited            processes
            Max open files            20000                1048576              files
            """
        #expect(ProcessStatus.parseMaxOpenFiles(Substring(limits)) == 20_000)
        #expect(ProcessStatus.parseMaxOpenFiles("Max open files            unlimited            unlimited            files") == nil)
        #expect(throws: ProcParseError.self) { try ProcessStatus.parseBootTime("cpu 1 2 3\n") }
    }

    /// This test process, as `/metrics` would describe it.
    @Test func readsThisProcess() throws {
        let cpuBefore = Self.processCPUSeconds()
        let status = try ProcessStatus.read()
        let cpuAfter = Self.processCPUSeconds()
        let now = Date().timeIntervalSince1970
        #expect(status.startTime <= now + 1 && status.startTime > now - 86_400)
        #expect(status.residentBytes > 1_000_000 && status.virtualBytes >= status.residentBytes)
        #expect(status.openFDs >= 3 && status.cpuSeconds > 0)
        // Against the kernel's other accounts: the CPU clock (ticks are 10 ms, two fields
        // of them rounded down) and the descriptor limit as getrlimit tells it.
        #expect(status.cpuSeconds >= cpuBefore - 0.05 && status.cpuSeconds <= cpuAfter + 0.05, "\(status.cpuSeconds) s, the CPU clock said \(cpuBefore)...\(cpuAfter)")
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let softLimit: Int? = limit.rlim_cur == rlim_t.max ? nil : Int(limit.rlim_cur)
        #expect(status.maxFDs == softLimit)
    }

    /// The whole reader on a fixture `/proc`: every figure from the files' numbers, by hand.
    @Test func readsAProcessFromFixtureFiles() throws {
        let root = try #require(Bundle.module.url(forResource: "Fixtures/proc", withExtension: nil)).path
        let status = try ProcessStatus.read(procRoot: root)
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
        // self/stat: utime 150 + stime 50 ticks; starttime 123456 ticks after btime 1700000000.
        #expect(status.cpuSeconds == 200 / ticksPerSecond)
        #expect(status.startTime == 1_700_000_000 + 123_456 / ticksPerSecond)
        // self/statm: 269250 pages of address space, 9216 resident.
        #expect(status.residentBytes == 9216 * pageSize)
        #expect(status.virtualBytes == 269_250 * pageSize)
        // self/fd holds seven entries; self/limits says 20000 (soft) of 1048576.
        #expect(status.openFDs == 7)
        #expect(status.maxFDs == 20_000)
    }

    /// User plus system CPU time of this process, from the kernel's CPU clock.
    static func processCPUSeconds() -> Double {
        var spec = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }

    @Test func parsesProcessStatWithParenthesesInTheName() throws {
        #expect(try ProcessUsage.parseStat(Self.fixture("self/stat")).cpuTicks == 200)
        #expect(try ProcessUsage.parseResidentPages(Self.fixture("self/statm")) == 9216)
    }

    @Test(arguments: ["", "cpu", "cpu a b c d", "intr 1 2 3"])
    func refusesOddStat(_ text: String) {
        #expect(throws: ProcParseError.self) { try CPUTimes.parse(procStat: Substring(text)) }
    }

    @Test(arguments: ["", "MemTotal: x kB", "MemTotal: 10 kB\n", "MemAvailable: 5 kB"])
    func refusesOddMeminfo(_ text: String) {
        #expect(throws: ProcParseError.self) { try MemoryInfo.parse(Substring(text)) }
    }

    @Test(arguments: ["", "1.0 2.0", "a b c", "nan 1 1", "inf 1 1"])
    func refusesOddLoadavg(_ text: String) {
        #expect(throws: ProcParseError.self) { try LoadAverage.parse(Substring(text)) }
    }

    @Test(arguments: ["eth0: 1 2 3", "eth0: x 0 0 0 0 0 0 0 5", ": 1 2 3 4 5 6 7 8 9"])
    func refusesOddNetDev(_ text: String) {
        #expect(throws: ProcParseError.self) { try NetworkCounters.parse(Substring(text)) }
    }

    @Test(arguments: ["", "123 (name", "123 (name) S 1 2"])
    func refusesOddProcessStat(_ text: String) {
        #expect(throws: ProcParseError.self) { try ProcessUsage.parseStat(Substring(text)) }
    }
}
