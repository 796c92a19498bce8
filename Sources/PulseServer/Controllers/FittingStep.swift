import PulseCore

/// The step for `points=N`: the smallest round step whose aligned buckets over
/// `from...to` number at most N, the way Grafana rounds an interval to a
/// width of chart.
///
/// Round steps read well on an axis and repeat across queries, and from a
/// minute up they are whole minutes, which the store answers from its
/// per-minute rollups instead of scanning raw rows (24 h at `points=1000` is
/// 2m: 720 points).
enum FittingStep {
    static let ladder: [Int64] = [
        1, 2, 5, 10, 15, 30,  // seconds
        60, 120, 300, 600, 900, 1_800,  // minutes
        3_600, 7_200, 10_800, 21_600, 43_200, 86_400,  // hours, a day
    ].map { $0 * 1000 }

    static func step(from: Int64, to: Int64, points: Int) -> Int64 {
        precondition(points > 0 && from <= to)
        func fits(_ step: Int64) -> Bool { to / step - from / step + 1 <= Int64(points) }
        if let step = ladder.first(where: fits) { return step }
        // Beyond a day: whole days.
        let day = ladder.last!
        var days = max(1, (to - from) / day / Int64(points))
        while !fits(days * day) { days += 1 }
        return days * day
    }
}
