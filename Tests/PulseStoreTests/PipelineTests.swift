import Logging
import PulseCore
import PulseStore
import Synchronization
import Testing

/// The pipeline over a real store: validation is all or nothing, and only written samples are published.
@Suite struct PipelineTests {
    final class RecordingPublisher: SamplePublisher {
        let published = Mutex<[Sample]>([])
        func publish(_ samples: [Sample], from source: SampleSource) {
            published.withLock { $0.append(contentsOf: samples) }
        }
    }

    @Test func aBatchWithOneBadSampleWritesAndPublishesNothing() async throws {
        let db = try TemporaryDatabase()
        let store = try SampleStore.open(db.configuration(), logger: .quiet)
        let publisher = RecordingPublisher()
        let pipeline = Pipeline(writer: store, publishers: [publisher])
        let batch = [
            Sample(metric: "good", timestamp: 1000, value: 1),
            Sample(metric: "bad-name", timestamp: 1000, value: 1),
            Sample(metric: "good", timestamp: 2000, value: .nan),
        ]
        await #expect {
            try await pipeline.accept(batch, from: .ingest, durability: .committed)
        } throws: { error in
            guard let rejected = error as? RejectedSamples else { return false }
            return rejected.entries.map(\.index) == [1, 2]
                && rejected.entries[0].problems.map(\.field) == ["metric"]
                && rejected.entries[1].problems.map(\.field) == ["value"]
        }
        try await store.flush()
        #expect(try await store.series(matching: SeriesSelector(metric: "good")).isEmpty)
        #expect(publisher.published.withLock { $0.isEmpty })

        try await pipeline.accept([batch[0]], from: .ingest, durability: .committed)
        #expect(try await store.range(SeriesSelector(metric: "good"), from: 0, to: 5000).first?.points == [Point(1000, 1)])
        #expect(publisher.published.withLock { $0 } == [batch[0]])
        await store.close()
    }
}
