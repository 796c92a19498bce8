import ArgumentParser

/// Benchmarks that print figures. Run against a release build: `scripts/bench`.
@main
struct PulsegateBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pulsegate-bench",
        abstract: "Pulsegate's benchmarks.",
        subcommands: [StoreWriteBenchmark.self, DownsampleBenchmark.self, LiveBenchmark.self, IngestBenchmark.self, RemoteWriteBenchmark.self, ProtobufBenchmark.self, ChunkCodecBenchmark.self, StorageBenchmark.self, HistoryBenchmark.self, MetricsBenchmark.self, SoakBenchmark.self, ClusterBenchmark.self]
    )
}
