@testable import PulseCluster
import Testing

/// Day partitions: UTC days, named after their date, and read back from their names.
@Suite struct DayPartitionTests {
    @Test func namesTheUTCDate() {
        // 2025-12-05T00:00:00Z and the last millisecond of that day.
        let start: Int64 = 1_764_892_800_000
        #expect(DayPartition(containing: start).tableName == "samples_p20251205")
        #expect(DayPartition(containing: start + 86_399_999).start == start)
        #expect(DayPartition(containing: start + 86_400_000).tableName == "samples_p20251206")
        #expect(DayPartition(containing: 0).tableName == "samples_p19700101")
        // A leap day.
        #expect(DayPartition(containing: 1_709_164_800_000).tableName == "samples_p20240229")
    }

    @Test func readsItsOwnNamesBackAndNoOthers() {
        var day = DayPartition(containing: 0)
        for _ in 0..<40_000 {  // about 110 years, every day
            #expect(DayPartition(tableName: day.tableName) == day)
            day = day.next
        }
        #expect(DayPartition(tableName: "samples_p2025120") == nil)
        #expect(DayPartition(tableName: "samples_p20251305") == nil)
        #expect(DayPartition(tableName: "rollups_1m") == nil)
    }
}
