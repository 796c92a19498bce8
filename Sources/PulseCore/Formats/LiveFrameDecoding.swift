extension LiveFrame {
    /// A `samples` frame read back into its batch: how a cluster node takes in
    /// another node's batch from the shared log. Nil for anything else or a
    /// frame that does not hold valid samples.
    public static func decodeSamples(_ text: String) -> PublishedBatch? {
        SamplesFrameScanner.decode(text) ?? decodeSamplesAsJSON(text)
    }

    /// The general way, for any JSON text of a samples frame (escaped strings,
    /// another field order): what `SamplesFrameScanner` falls back to.
    static func decodeSamplesAsJSON(_ text: String) -> PublishedBatch? {
        guard case let .success(.object(members)) = JSONValue.parse(Array(text.utf8), maxDepth: 8) else { return nil }
        var type: String?, seq: UInt64?, serverTime: Double?, entries: [JSONValue]?
        for (key, value) in members {
            switch (key, value) {
            case let ("type", .string(text)): type = text
            case let ("seq", .number(text)): seq = UInt64(text)
            case let ("server_ts", .number(text)): serverTime = Double(text)
            case let ("samples", .array(array)): entries = array
            default: break
            }
        }
        guard type == "samples", let seq, let serverTime, let entries else { return nil }
        var samples: [Sample] = []
        samples.reserveCapacity(entries.count)
        for entry in entries {
            guard case let .object(fields) = entry else { return nil }
            var metric: String?, labels: [Label] = [], timestamp: Int64?, value: Double?
            for (key, field) in fields {
                switch (key, field) {
                case let ("metric", .string(text)): metric = text
                case let ("labels", .object(pairs)):
                    for (name, labelValue) in pairs {
                        guard case let .string(text) = labelValue else { return nil }
                        labels.append(Label(name, text))
                    }
                case let ("ts", .number(text)): timestamp = Int64(text)
                case let ("value", .number(text)): value = Double(text)
                default: return nil
                }
            }
            guard let metric, let timestamp, let value else { return nil }
            samples.append(Sample(key: SeriesKey(metric: metric, labels: labels), timestamp: timestamp, value: value))
        }
        return PublishedBatch(seq: seq, serverTime: serverTime, samples: samples)
    }
}
