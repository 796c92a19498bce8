/// The one path every sample takes: validate, write, then publish.
///
/// A batch is all or nothing: one invalid sample refuses the whole batch, so
/// that a client never has to guess which half of its request was kept.
/// Publishing happens after the write returns, so nothing is broadcast that
/// the store refused.
public struct Pipeline: SampleSink {
    public let validator: SampleValidator
    public let writer: any SampleWriter
    public let publishers: [any SamplePublisher]
    public let observer: (any PipelineObserver)?

    public init(
        validator: SampleValidator = SampleValidator(), writer: any SampleWriter, publishers: [any SamplePublisher] = [],
        observer: (any PipelineObserver)? = nil
    ) {
        self.validator = validator
        self.writer = writer
        self.publishers = publishers
        self.observer = observer
    }

    public func accept(_ samples: [Sample], from source: SampleSource, durability: Durability) async throws {
        try await accept(samples, from: source, durability: durability, validated: false)
    }

    /// `validated`: the samples were checked by this pipeline's `validator`
    /// already (the ingest parsers check while they read, to name each problem
    /// by its place in the request), so checking them twice would only cost time.
    public func accept(_ samples: [Sample], from source: SampleSource, durability: Durability, validated: Bool) async throws {
        guard !samples.isEmpty else { return }
        if !validated {
            var rejected: [RejectedSamples.Entry] = []
            for (index, sample) in samples.enumerated() {
                let problems = validator.problems(in: sample)
                if !problems.isEmpty { rejected.append(.init(index: index, problems: problems)) }
            }
            if !rejected.isEmpty {
                observer?.rejected(samples.count, from: source, because: .invalid)
                throw RejectedSamples(entries: rejected)
            }
        }
        do {
            try await writer.write(samples, durability: durability)
        } catch {
            observer?.rejected(samples.count, from: source, because: .storeUnavailable)
            throw error
        }
        observer?.accepted(samples.count, from: source)
        for publisher in publishers {
            publisher.publish(samples, from: source)
        }
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
