import PulseCore

/// Passes on what a batch says besides its samples (ended series, metric
/// metadata), and not the samples: in cluster mode the samples reach the
/// exposition through the cluster's stream, which carries samples only.
struct AnnotationPublisher: SamplePublisher {
    let target: any SamplePublisher

    init(_ target: any SamplePublisher) {
        self.target = target
    }

    func publish(_ samples: [Sample], from source: SampleSource) {}

    func end(_ series: [SeriesEnd]) {
        target.end(series)
    }

    func describe(_ metadata: [MetricMetadata]) {
        target.describe(metadata)
    }
}
