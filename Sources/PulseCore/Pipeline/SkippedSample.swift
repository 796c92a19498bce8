/// Why a format left a sample out of a batch it otherwise accepted. Only a
/// format whose senders cannot be told about one sample (remote_write: a 4xx
/// drops the whole batch, valid samples with it) skips samples; the others
/// refuse the request and say why.
public enum SkippedSample: String, Sendable, CaseIterable {
    /// NaN that is not a staleness marker: a summary quantile with no
    /// observations, a ratio of zeros. The store keeps finite values only.
    case nan
    /// +Inf or -Inf.
    case infinite = "inf"
    /// A native histogram sample, which the store has no representation for.
    case nativeHistogram = "native_histogram"
    /// A sample of a series named as one of the gateway's own (`ReservedNames`),
    /// from a format that skips what one series breaks rather than refuse the request.
    case reservedName = "reserved_name"
}
