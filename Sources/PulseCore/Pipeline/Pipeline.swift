/// The one path every sample takes: validate, meet the series rules, write, then publish.
///
/// A batch is all or nothing: one invalid sample, or one rule broken, refuses
/// the whole batch, so that a client never has to guess which half of its
/// request was kept. Publishing happens after the write returns, so nothing is
/// broadcast that the store refused. Every refusal is counted here, by source
/// and reason, whatever the source.
public struct Pipeline: SampleSink {
    public let validator: SampleValidator
    public let writer: any SampleWriter
    /// What the series limits are checked against; nil checks none (a store
    /// that cannot tell, or a test).
    public let cardinality: (any SeriesCardinality)?
    public let seriesLimits: SeriesLimits
    public let reservedNames: ReservedNames
    public let publishers: [any SamplePublisher]
    public let observer: (any PipelineObserver)?

    public init(
        validator: SampleValidator = SampleValidator(), writer: any SampleWriter, cardinality: (any SeriesCardinality)? = nil,
        seriesLimits: SeriesLimits = SeriesLimits(), reservedNames: ReservedNames = .none,
        publishers: [any SamplePublisher] = [], observer: (any PipelineObserver)? = nil
    ) {
        self.validator = validator
        self.writer = writer
        self.cardinality = cardinality
        self.seriesLimits = seriesLimits
        self.reservedNames = reservedNames
        self.publishers = publishers
        self.observer = observer
    }

    /// Validates `samples`, then goes on as `accept(_:from:durability:)` with the batch.
    /// Throws `RejectedSamples`, `SeriesRefusal`, or the writer's error.
    public func accept(_ samples: [Sample], from source: SampleSource, durability: Durability) async throws {
        guard !samples.isEmpty else { return }
        switch validator.validate(samples) {
        case let .success(batch): try await accept(batch, from: source, durability: durability)
        case let .failure(rejected):
            observer?.rejected(samples.count, from: source, because: .invalid)
            throw rejected
        }
    }

    /// Reads a pushed body with `parser` and this pipeline's validator, counting
    /// the samples of a body refused for invalid samples (one per sample named).
    public func parse(
        _ body: some Collection<UInt8>, with parser: any IngestParser, from source: SampleSource, now: Int64, maxSamples: Int
    ) -> Result<ValidatedBatch, IngestRejection> {
        let result = parser.parse(body, now: now, maxSamples: maxSamples, validator: validator)
        if case let .failure(rejection) = result, rejection.reason == .invalidSamples {
            observer?.rejected(rejection.refusedSamples ?? Set(rejection.problems.compactMap(\.index)).count, from: source, because: .invalid)
        }
        guard parser.skipsWhatOneSeriesBreaks, !source.isGatewayOwn, case let .success(batch) = result,
              batch.samples.contains(where: { reservedNames.contains($0.key.metric) })
        else { return result }
        // Reserved names are this pipeline's rule: for such a format, their series are left out here.
        let allowed = batch.samples.filter { !reservedNames.contains($0.key.metric) }
        var kept = batch.with(samples: allowed, checkedAgainst: batch.limits)
        kept.ended = batch.ended.filter { !reservedNames.contains($0.key.metric) }
        kept.skipped[.reservedName, default: 0] += batch.samples.count - allowed.count
        return .success(kept)
    }

    /// Meets the series rules, writes, then publishes. A batch checked against
    /// other limits than this pipeline's is validated again.
    public func accept(_ batch: ValidatedBatch, from source: SampleSource, durability: Durability) async throws {
        let batch = try checked(batch, from: source)
        _ = try await accept(batch, from: source) { try await writer.write($0, durability: durability); return .stored }
    }

    /// As `accept(_:from:durability:)`, committed, but stored once per `key`: a
    /// push sent again with the same key stores and publishes nothing, and its
    /// receipt says what the first one accepted.
    public func accept(_ batch: ValidatedBatch, from source: SampleSource, idempotencyKey key: IdempotencyKey) async throws -> WriteReceipt {
        let batch = try checked(batch, from: source)
        return try await accept(batch, from: source) { try await writer.write($0, idempotencyKey: key) }
    }

    /// The batch as it is when it was checked against this pipeline's limits;
    /// otherwise checked again (what it says besides its samples kept), or refused.
    private func checked(_ batch: ValidatedBatch, from source: SampleSource) throws -> ValidatedBatch {
        guard batch.limits != validator.limits else { return batch }
        switch validator.validate(batch.samples) {
        case let .success(checked):
            return batch.with(samples: checked.samples, checkedAgainst: checked.limits)
        case let .failure(rejected):
            observer?.rejected(batch.count, from: source, because: .invalid)
            throw rejected
        }
    }

    private func accept(_ batch: ValidatedBatch, from source: SampleSource, write: ([Sample]) async throws -> WriteReceipt) async throws -> WriteReceipt {
        guard !batch.isEmpty else {
            announce(batch)
            return .stored
        }
        if let refusal = refusal(of: batch.samples, from: source) {
            observer?.rejected(batch.count, from: source, because: refusal.rejection)
            throw refusal
        }
        let receipt: WriteReceipt
        do {
            receipt = try await write(batch.samples)
        } catch {
            observer?.rejected(batch.count, from: source, because: .storeUnavailable)
            throw error
        }
        guard receipt == .stored else { return receipt }
        observer?.accepted(batch.count, from: source)
        for publisher in publishers {
            publisher.publish(batch.samples, from: source)
        }
        announce(batch)
        return receipt
    }

    /// Tells the publishers what a batch says besides its samples: ended series
    /// and metric metadata (after its samples, so that a series written and
    /// ended in one batch ends).
    private func announce(_ batch: ValidatedBatch) {
        guard !batch.ended.isEmpty || !batch.metadata.isEmpty else { return }
        for publisher in publishers {
            if !batch.ended.isEmpty { publisher.end(batch.ended) }
            if !batch.metadata.isEmpty { publisher.describe(batch.metadata) }
        }
    }

    /// The first series rule `samples` break, in the order a client can act on:
    /// names it may not use, then too many new series, then the store's limit.
    func refusal(of samples: [Sample], from source: SampleSource) -> SeriesRefusal? {
        if !source.isGatewayOwn {
            var reserved: Set<String> = []
            for sample in samples where reservedNames.contains(sample.key.metric) { reserved.insert(sample.key.metric) }
            if !reserved.isEmpty { return .reservedNames(reserved.sorted(), explanation: reservedNames.explanation) }
        }
        guard let cardinality else { return nil }
        let newSeries = cardinality.newSeriesCount(in: Set(samples.lazy.map(\.key)))
        guard newSeries > 0 else { return nil }
        if newSeries > seriesLimits.maxNewSeriesPerBatch {
            return .tooManyNewSeries(new: newSeries, limit: seriesLimits.maxNewSeriesPerBatch)
        }
        let stored = cardinality.seriesCount
        if stored + newSeries > seriesLimits.maxSeries {
            return .seriesLimit(stored: stored, new: newSeries, limit: seriesLimits.maxSeries)
        }
        return nil
    }
}

/// A batch refused by validation, with every problem of every bad sample.
public struct RejectedSamples: Error, Sendable, CustomStringConvertible {
    public struct Entry: Sendable, Hashable {
        public var index: Int
        public var problems: [SampleProblem]
    }

    public var entries: [Entry]

    public var description: String {
        entries.map { entry in
            "sample \(entry.index): " + entry.problems.map(\.description).joined(separator: "; ")
        }.joined(separator: "\n")
    }
}
