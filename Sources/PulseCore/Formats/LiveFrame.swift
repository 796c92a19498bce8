/// The frames of the live protocol (`/ws/metrics`), as JSON text.
///
/// Every frame has a `type` and a `seq`. A `samples` frame's `seq` is the number
/// of the batch it carries, strictly increasing within one server process; a
/// control frame carries the `seq` of the last batch before it, so `seq` never
/// goes back. Written by hand, not by `JSONEncoder`: a samples frame is encoded
/// once per publish and per distinct filter, and is on the hot path.
public enum LiveFrame {
    /// The first frame of every connection.
    public static func hello(seq: UInt64, instance: String, headSeq: UInt64, ring: RingCoverage, serverTime: Int64) -> String {
        var out = #"{"type":"hello","seq":"# + "\(seq)"
        out += #","instance":"#
        JSONText.appendString(instance, to: &out)
        out += #","head_seq":\#(headSeq),"ring":{"oldest_seq":\#(ring.oldestSeq),"newest_seq":\#(ring.newestSeq),"complete_from_ts":\#(ring.completeFromTimestamp)},"server_ts":\#(serverTime)}"#
        return out
    }

    /// One published batch, reduced to the samples that a filter lets through.
    /// `serverTime` is the publish time in milliseconds with microsecond
    /// decimals, so that clients can measure delivery latency.
    public static func samples<S: Sequence<Sample>>(seq: UInt64, serverTime: Double, samples: S) -> String {
        var out = samplesPrefix + "\(seq)"
        appendSamplesTail(serverTime: serverTime, samples: samples, to: &out)
        return out
    }

    /// What a samples frame starts with: its seq follows, then `samplesTail`.
    /// (The cluster's store numbers a batch inside PostgreSQL, and joins the three there.)
    public static let samplesPrefix = #"{"type":"samples","seq":"#

    /// A samples frame after its seq.
    public static func samplesTail<S: Sequence<Sample>>(serverTime: Double, samples: S) -> String {
        var out = ""
        appendSamplesTail(serverTime: serverTime, samples: samples, to: &out)
        return out
    }

    private static func appendSamplesTail<S: Sequence<Sample>>(serverTime: Double, samples: S, to out: inout String) {
        out += #","server_ts":"# + formatMilliseconds(serverTime)
        out += #","samples":["#
        var first = true
        for sample in samples {
            if !first { out += "," }
            first = false
            out += #"{"metric":"#
            JSONText.appendString(sample.key.metric, to: &out)
            out += #","labels":"#
            LabelJSON.append(sample.key.labels, to: &out)
            out += #","ts":"#
            out += String(sample.timestamp)
            out += #","value":"#
            out += sample.value.description
            out += "}"
        }
        out += "]}"
    }

    /// The ring no longer holds the point asked for: samples with ts ≤ `completeFromTimestamp`
    /// must come from `/history`; everything after it follows on this stream.
    public static func reset(seq: UInt64, completeFromTimestamp: Int64, reason: String) -> String {
        var out = #"{"type":"reset","seq":\#(seq),"complete_from_ts":\#(completeFromTimestamp),"reason":"#
        JSONText.appendString(reason, to: &out)
        return out + "}"
    }

    /// Frames were dropped for this client because it read too slowly.
    public static func gap(seq: UInt64, dropped: Int, fromSeq: UInt64, fromTimestamp: Int64, toTimestamp: Int64) -> String {
        #"{"type":"gap","seq":\#(seq),"dropped":\#(dropped),"from_seq":\#(fromSeq),"from_ts":\#(fromTimestamp),"to_ts":\#(toTimestamp)}"#
    }

    /// The state of the stream itself: `degraded` while this node cannot follow
    /// the cluster's stream (its database away; batches wait, nothing is lost),
    /// `ok` once it can again. `seq` is the newest batch before it.
    public static func status(seq: UInt64, stream: String, reason: String?) -> String {
        var out = #"{"type":"status","seq":\#(seq),"stream":"#
        JSONText.appendString(stream, to: &out)
        if let reason {
            out += #","reason":"#
            JSONText.appendString(reason, to: &out)
        }
        return out + "}"
    }

    /// The subscription now in force.
    public static func subscribed(seq: UInt64, filter: SubscriptionFilter) -> String {
        var out = #"{"type":"subscribed","seq":\#(seq),"metrics":["#
        for (index, text) in filter.texts.enumerated() {
            if index > 0 { out += "," }
            JSONText.appendString(text, to: &out)
        }
        return out + "]}"
    }

    /// A client message the server could not use; the connection stays open.
    public static func error(seq: UInt64, message: String) -> String {
        var out = #"{"type":"error","seq":\#(seq),"error":"#
        JSONText.appendString(message, to: &out)
        return out + "}"
    }

    /// Milliseconds with three decimals (microseconds), without a locale.
    static func formatMilliseconds(_ value: Double) -> String {
        let micros = Int64((value * 1000).rounded())
        let whole = micros / 1000
        let fraction = micros % 1000
        return "\(whole)." + (fraction < 10 ? "00" : fraction < 100 ? "0" : "") + "\(fraction)"
    }
}

/// What the replay ring holds: batches `oldestSeq...newestSeq`, and every sample
/// published with a ts after `completeFromTimestamp`.
public struct RingCoverage: Sendable, Equatable {
    public var oldestSeq: UInt64
    public var newestSeq: UInt64
    public var completeFromTimestamp: Int64

    public init(oldestSeq: UInt64, newestSeq: UInt64, completeFromTimestamp: Int64) {
        self.oldestSeq = oldestSeq
        self.newestSeq = newestSeq
        self.completeFromTimestamp = completeFromTimestamp
    }
}
