import PulseCore

/// The history endpoints' bodies, written by hand: a response can hold 11,000
/// points per series, and `JSONEncoder` would spend more than the query.
enum HistoryEncoding {
    static func json(query: HistoryRequest, completeUntil: Int64, series: [SeriesPoints]) -> String {
        var out = #"{"metric":"#
        JSONText.appendString(query.selector.metric, to: &out)
        out += #","from":\#(query.from),"to":\#(query.to),"step":\#(query.step.map(String.init) ?? "null"),"agg":"#
        out += query.step == nil ? "null" : "\"\(query.aggregation.rawValue)\""
        out += #","complete_until":\#(completeUntil),"series":["#
        for (index, entry) in series.enumerated() {
            if index > 0 { out += "," }
            out += #"{"labels":"# + LabelJSON.encode(entry.key.labels) + #","points":["#
            for (position, point) in entry.points.enumerated() {
                if position > 0 { out += "," }
                // Stored values are finite, but a sum or an average of them can pass
                // the largest double; JSON has no infinity, so such a point is null.
                out += point.value.isFinite ? "[\(point.timestamp),\(point.value)]" : "[\(point.timestamp),null]"
            }
            out += "]}"
        }
        return out + "]}"
    }

    static func csv(_ series: [SeriesPoints]) -> String {
        var out = "ts,labels,value\n"
        for entry in series {
            let labels = "\"" + SeriesKey(metric: "", labels: entry.key.labels).canonicalText.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            for point in entry.points {
                out += "\(point.timestamp),\(labels),\(point.value)\n"
            }
        }
        return out
    }

    static func catalog(_ found: [SeriesInfo]) -> String {
        var out = #"{"metrics":["#
        var index = 0
        while index < found.count {
            let metric = found[index].key.metric
            if index > 0 { out += "," }
            out += #"{"metric":"#
            JSONText.appendString(metric, to: &out)
            out += #","series":["#
            var first = true
            while index < found.count, found[index].key.metric == metric {
                if !first { out += "," }
                first = false
                out += #"{"labels":"# + LabelJSON.encode(found[index].key.labels) + #","last_ts":\#(found[index].lastTimestamp)}"#
                index += 1
            }
            out += "]}"
        }
        return out + "]}"
    }
}
