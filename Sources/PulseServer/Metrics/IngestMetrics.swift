import Metrics
import PulseCore

/// What `POST /ingest` counts: requests and samples accepted, requests rejected by reason.
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

    init(factory: any MetricsFactory) {
        acceptedRequests = Counter(label: "pulsegate_ingest_requests_accepted_total", factory: factory)
        acceptedSamples = Counter(label: "pulsegate_ingest_samples_accepted_total", factory: factory)
        rejected = Dictionary(uniqueKeysWithValues: Rejection.allCases.map { reason in
            (reason, Counter(label: "pulsegate_ingest_requests_rejected_total", dimensions: [("reason", reason.rawValue)], factory: factory))
        })
    }

    func accepted(samples: Int) {
        acceptedRequests.increment()
        acceptedSamples.increment(by: samples)
    }

    func rejected(_ reason: Rejection) {
        rejected[reason]?.increment()
    }
}
