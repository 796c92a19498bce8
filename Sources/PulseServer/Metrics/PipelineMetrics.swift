import Metrics
import PulseCore

/// `pulsegate_samples_accepted_total{source}` and
/// `pulsegate_samples_rejected_total{source,reason}`, fed by the pipeline and,
/// for what only ingest refuses (cardinality, reserved names), by its controller.
///
/// Every source and reason exists from the start, at 0, so that a rate over
/// any of them is defined before the first event.
struct PipelineMetrics: PipelineObserver {
    private let acceptedBySource: [SampleSource: Counter]
    private let rejectedBySource: [SampleSource: [SampleRejection: Counter]]

    init(factory: any MetricsFactory) {
        acceptedBySource = Dictionary(uniqueKeysWithValues: SampleSource.allCases.map { source in
            (source, Counter(label: "pulsegate_samples_accepted_total", dimensions: [("source", source.rawValue)], factory: factory))
        })
        rejectedBySource = Dictionary(uniqueKeysWithValues: SampleSource.allCases.map { source in
            (source, Dictionary(uniqueKeysWithValues: SampleRejection.allCases.map { reason in
                (reason, Counter(label: "pulsegate_samples_rejected_total", dimensions: [("source", source.rawValue), ("reason", reason.rawValue)], factory: factory))
            }))
        })
    }

    func accepted(_ count: Int, from source: SampleSource) {
        acceptedBySource[source]?.increment(by: count)
    }

    func rejected(_ count: Int, from source: SampleSource, because reason: SampleRejection) {
        rejectedBySource[source]?[reason]?.increment(by: count)
    }
}
