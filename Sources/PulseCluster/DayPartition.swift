/// One day of raw samples: a partition of `samples` holding `[start, start + length)`,
/// named after its UTC date (`samples_p20261205`) so that a person reading
/// `\d+ samples` sees which day is which.
struct DayPartition: Hashable, Comparable, Sendable {
    static let length: Int64 = 86_400_000

    /// The start of the day, ms since the Unix epoch (UTC).
    let start: Int64

    init(containing timestamp: Int64) {
        start = timestamp - ((timestamp % Self.length) + Self.length) % Self.length
    }

    /// The partition a table name stands for, if it is one of ours.
    init?(tableName: String) {
        guard tableName.hasPrefix("samples_p"), tableName.count == 17, let digits = Int(tableName.dropFirst(9)) else { return nil }
        let (year, month, day) = (digits / 10_000, digits / 100 % 100, digits % 100)
        guard (1...12).contains(month), (1...31).contains(day) else { return nil }
        start = Int64(Self.days(year: year, month: month, day: day)) * Self.length
    }

    var end: Int64 { start + Self.length }
    var next: DayPartition { DayPartition(containing: end) }

    var tableName: String {
        let (year, month, day) = Self.civil(days: Int(start / Self.length))
        return "samples_p" + String(year) + (month < 10 ? "0" : "") + String(month) + (day < 10 ? "0" : "") + String(day)
    }

    static func < (lhs: DayPartition, rhs: DayPartition) -> Bool { lhs.start < rhs.start }

    /// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// The day count since 1970-01-01 of a proleptic Gregorian date.
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
