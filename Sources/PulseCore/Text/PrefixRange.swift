/// Prefix search as a range of an ordered index: every string starting with
/// `prefix` lies in `prefix ..< upperBound(of: prefix)` (bytewise order), which a
/// database answers without LIKE, whose wildcards a prefix could contain.
public enum PrefixRange {
    /// The smallest string greater than every string starting with `prefix`
    /// ("" when there is none, e.g. for an empty prefix). Metric names are ASCII.
    public static func upperBound(of prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.popLast() {
            if last < 0x7F { return String(decoding: bytes + [last + 1], as: UTF8.self) }
        }
        return ""
    }
}
