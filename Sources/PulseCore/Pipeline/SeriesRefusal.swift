/// A batch refused by the pipeline's series rules, before anything of it was
/// written or published. (Invalid samples are `RejectedSamples`.)
public enum SeriesRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    /// Metric names of the gateway's own, from a source that is not the gateway.
    case reservedNames([String], explanation: String)
    /// More new series in one batch than `SeriesLimits.maxNewSeriesPerBatch`.
    case tooManyNewSeries(new: Int, limit: Int)
    /// The batch would take the store past `SeriesLimits.maxSeries`.
    case seriesLimit(stored: Int, new: Int, limit: Int)

    /// The reason it is counted under.
    public var rejection: SampleRejection {
        switch self {
        case .reservedNames: .reservedName
        case .tooManyNewSeries: .tooManyNewSeries
        case .seriesLimit: .seriesLimit
        }
    }

    public var description: String {
        switch self {
        case let .reservedNames(names, explanation):
            "pushed names may not be Pulsegate's own (\(names.prefix(10).joined(separator: ", "))): \(explanation); nothing was stored"
        case let .tooManyNewSeries(new, limit):
            "\(new) new series in one request, at most \(limit) are allowed: send fewer label combinations"
        case let .seriesLimit(stored, new, limit):
            "the series limit (\(limit)) is reached: \(stored) stored, \(new) new in this request; no new series are accepted"
        }
    }
}
