/// Samples that passed a `SampleValidator`: what the pipeline writes and publishes.
///
/// Only this module makes one (the validator, and the ingest parsers, which
/// validate while they read so as to name each problem by its place in the
/// request), so a batch in hand is a batch checked: the pipeline does not check
/// it twice, unless it was checked against other limits than the pipeline's.
public struct ValidatedBatch: Sendable {
    public private(set) var samples: [Sample]
    /// The limits the samples were checked against.
    public private(set) var limits: SampleLimits
    /// Series the sender said have ended (staleness markers): nothing is stored for them.
    public internal(set) var ended: [SeriesEnd] = []
    /// What the sender said about metric families, for `/metrics`.
    public internal(set) var metadata: [MetricMetadata] = []
    /// Samples the format left out, by why (non-finite values).
    public internal(set) var skipped: [SkippedSample: Int] = [:]
    /// The families as a push to a Pushgateway group said them, which the
    /// group exposes; empty for the other formats.
    public internal(set) var families: [PushedFamily] = []

    init(samples: [Sample], checkedAgainst limits: SampleLimits) {
        self.samples = samples
        self.limits = limits
    }

    /// The same batch with other samples, checked against `limits`: what it
    /// says besides its samples is kept.
    func with(samples: [Sample], checkedAgainst limits: SampleLimits) -> ValidatedBatch {
        var batch = self
        batch.samples = samples
        batch.limits = limits
        return batch
    }

    /// Samples to store.
    public var count: Int { samples.count }
    /// Nothing to store; there may still be ended series and metadata.
    public var isEmpty: Bool { samples.isEmpty }
    /// Samples left out, all reasons together.
    public var skippedCount: Int { skipped.values.reduce(0, +) }
}

extension SampleValidator {
    /// The batch, or every problem of every invalid sample.
    public func validate(_ samples: [Sample]) -> Result<ValidatedBatch, RejectedSamples> {
        var rejected: [RejectedSamples.Entry] = []
        for (index, sample) in samples.enumerated() {
            let problems = problems(in: sample)
            if !problems.isEmpty { rejected.append(.init(index: index, problems: problems)) }
        }
        guard rejected.isEmpty else { return .failure(RejectedSamples(entries: rejected)) }
        return .success(ValidatedBatch(samples: samples, checkedAgainst: limits))
    }
}
