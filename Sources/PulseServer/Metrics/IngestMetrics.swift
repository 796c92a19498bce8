import Metrics
import PulseCore

/// What a push endpoint counts: requests and samples accepted, requests
/// rejected by reason, and (remote_write) samples skipped by reason; under
/// its own names (`pulsegate_ingest_*` for `POST /ingest`,
/// `pulsegate_remote_write_*` for `POST /api/v1/write`, `pulsegate_pushgateway_*`
/// for the Pushgateway API).
///
/// Every reason's counter exists from the start, at 0, so that a rate over it
/// is defined before the first rejection.
struct IngestMetrics: Sendable {
    enum Rejection: String, Sendable, CaseIterable {
        case bodyTooLarge = "body_too_large"
        case unsupportedMediaType = "unsupported_media_type"
        case badEncoding = "bad_encoding"
        case malformed = "malformed"
        case tooManySamples = "too_many_samples"
        case invalidSamples = "invalid_samples"
        case tooManyNewSeries = "too_many_new_series"
        case seriesLimit = "series_limit"
        case reservedName = "reserved_name"
        case storeUnavailable = "store_unavailable"
        case badIdempotencyKey = "bad_idempotency_key"
        /// A Pushgateway push's path that cannot be read.
        case badGroupingKey = "bad_grouping_key"
        /// A Pushgateway push's `Pulsegate-Group-TTL` that cannot be read.
        case badTTL = "bad_ttl"
        /// A Pushgateway push of a family another group has with another type.
        case inconsistentFamily = "inconsistent_family"

        init(_ reason: IngestRejection.Reason) {
            switch reason {
            case .malformed: self = .malformed
            case .tooManySamples: self = .tooManySamples
            case .invalidSamples: self = .invalidSamples
            }
        }

        init(_ refusal: SeriesRefusal) {
            switch refusal {
            case .reservedNames: self = .reservedName
            case .tooManyNewSeries: self = .tooManyNewSeries
            case .seriesLimit: self = .seriesLimit
            }
        }
    }

    let acceptedRequests: Counter
    let acceptedSamples: Counter
    private let rejected: [Rejection: Counter]
    private let skipped: [SkippedSample: Counter]

    /// The counters named `pulsegate_<endpoint>_…`; with `skips`, those of skipped samples too.
    init(factory: any MetricsFactory, endpoint: String = "ingest", skips: Bool = false) {
        acceptedRequests = Counter(label: "pulsegate_\(endpoint)_requests_accepted_total", factory: factory)
        acceptedSamples = Counter(label: "pulsegate_\(endpoint)_samples_accepted_total", factory: factory)
        rejected = Dictionary(uniqueKeysWithValues: Rejection.allCases.map { reason in
            (reason, Counter(label: "pulsegate_\(endpoint)_requests_rejected_total", dimensions: [("reason", reason.rawValue)], factory: factory))
        })
        skipped = !skips ? [:] : Dictionary(uniqueKeysWithValues: SkippedSample.allCases.map { reason in
            (reason, Counter(label: "pulsegate_\(endpoint)_samples_skipped_total", dimensions: [("reason", reason.rawValue)], factory: factory))
        })
    }

    func accepted(_ batch: ValidatedBatch) {
        acceptedRequests.increment()
        acceptedSamples.increment(by: batch.count)
        for (reason, count) in batch.skipped { skipped[reason]?.increment(by: count) }
    }

    func rejected(_ reason: Rejection) {
        rejected[reason]?.increment()
    }
}
