/// `application/x-protobuf`: a Prometheus remote_write 1.0 `WriteRequest`
/// (already snappy-decoded: the encoding is the HTTP layer's).
///
/// A sender drops a batch that gets a 4xx, its valid samples with it, so this
/// format refuses a request only for what can never succeed: bytes that are
/// not a `WriteRequest`, too many samples, or a series whose name or labels
/// break the rules (every such series is listed). What one sample alone cannot
/// be stored as is left out of an accepted batch and counted:
///
/// - Prometheus's staleness marker is not a value: it ends the series
///   (`ValidatedBatch.ended`), which leaves the latest values `/metrics` exposes.
/// - Any other NaN, and ±Inf, are skipped (`ValidatedBatch.skipped`): the store
///   keeps finite values, and `/history` answers JSON, which has no NaN.
/// - Native histograms are skipped and counted the same way, and so are series
///   with a name the gateway reserves (`skipsWhatOneSeriesBreaks`: a Prometheus
///   scraping any Go or Python target sends `process_*` series).
///
/// A label with an empty value is dropped, as Prometheus treats it as absent.
public struct RemoteWriteParser: IngestParser {
    /// Keys of series sent before, shared by every request this parser reads.
    public let cache: SeriesKeyCache?

    public init(cache: SeriesKeyCache? = nil) {
        self.cache = cache
    }

    public var mediaTypes: [String] { ["application/x-protobuf"] }
    public var name: String { "remote_write" }
    public var skipsWhatOneSeriesBreaks: Bool { true }

    public func parse(_ body: some Collection<UInt8>, now: Int64, maxSamples: Int, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        cache?.use(validator.limits)
        let decoded: Result<RemoteWriteRequest, IngestRejection>
        if let result = body.withContiguousStorageIfAvailable({ bytes in decode(UnsafeRawBufferPointer(bytes), maxSamples: maxSamples) }) {
            decoded = result
        } else {
            decoded = Array(body).withUnsafeBytes { decode($0, maxSamples: maxSamples) }
        }
        return decoded.flatMap { batch(of: $0, validator: validator) }
    }

    private func decode(_ bytes: UnsafeRawBufferPointer, maxSamples: Int) -> Result<RemoteWriteRequest, IngestRejection> {
        Result { () throws(IngestRejection) in try RemoteWriteRequest.decode(bytes, maxSamples: maxSamples, cache: cache) }
    }

    /// The request's samples as a batch, or every invalid series.
    func batch(of request: RemoteWriteRequest, validator: SampleValidator) -> Result<ValidatedBatch, IngestRejection> {
        var samples: [Sample] = []
        samples.reserveCapacity(request.samples.count)
        var ended: [SeriesEnd] = []
        var skipped: [SkippedSample: Int] = [:]
        var problems: [IngestProblem] = []
        var refusedSamples = 0
        var invalidSeries = 0
        for (index, series) in request.series.enumerated() {
            var seriesProblems: [IngestProblem] = []
            func problem(_ field: String, _ reason: String) {
                seriesProblems.append(IngestProblem(index: nil, field: "timeseries[\(index)]" + (field.isEmpty ? "" : ".\(field)"), reason: reason))
            }
            let key: SeriesKey
            if let known = series.key {
                key = known  // checked when it was cached
            } else {
                var metric: String?
                var labels: [Label] = []
                labels.reserveCapacity(series.labels.count)
                for label in series.labels {
                    if label.name == "__name__" {
                        if metric != nil { problem("labels.__name__", "label name appears more than once") }
                        metric = label.value
                    } else if !label.value.isEmpty {
                        labels.append(label)
                    }
                }
                guard let metric else {
                    problem("labels", "has no __name__ label: every series needs a metric name")
                    problems += seriesProblems
                    refusedSamples += series.samples.count
                    invalidSeries += 1
                    continue
                }
                key = SeriesKey(metric: metric, labels: labels)
                for keyProblem in validator.problems(in: key) { problem(keyProblem.field, keyProblem.reason) }
                if seriesProblems.isEmpty, let labelBytes = series.labelBytes { cache?.insert(key, labelBytes: labelBytes) }
            }
            for raw in request.samples[series.samples] {
                if raw.value.isFinite {
                    if let timestampProblem = SampleValidator.timestampProblem(raw.timestamp) {
                        problem("samples.\(timestampProblem.field)", timestampProblem.reason)
                    }
                    samples.append(Sample(key: key, timestamp: raw.timestamp, value: raw.value))
                } else if raw.value.bitPattern == RemoteWriteRequest.staleMarkerBits {
                    ended.append(SeriesEnd(key: key, timestamp: raw.timestamp))
                } else {
                    skipped[raw.value.isNaN ? .nan : .infinite, default: 0] += 1
                }
            }
            if series.histograms > 0 { skipped[.nativeHistogram, default: 0] += series.histograms }
            if !seriesProblems.isEmpty {
                problems += seriesProblems
                refusedSamples += series.samples.count
                invalidSeries += 1
            }
        }
        guard problems.isEmpty else {
            var rejection = IngestRejection(.invalidSamples, "\(invalidSeries) series are invalid; nothing was stored", problems: problems)
            rejection.refusedSamples = refusedSamples
            return .failure(rejection)
        }
        var batch = ValidatedBatch(samples: samples, checkedAgainst: validator.limits)
        batch.ended = ended
        batch.metadata = request.metadata.filter { !$0.family.isEmpty }
        batch.skipped = skipped
        return .success(batch)
    }
}
