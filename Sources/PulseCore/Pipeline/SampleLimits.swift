/// The bounds every sample must respect, whatever its source.
///
/// Prometheus itself sets no limit on label count or length; a gateway that
/// accepts pushes from strangers must, or one client can fill the disk with
/// a single label value.
public struct SampleLimits: Sendable, Equatable {
    public var maxMetricNameLength: Int
    public var maxLabels: Int
    public var maxLabelNameLength: Int
    /// In UTF-8 bytes.
    public var maxLabelValueLength: Int

    public init(
        maxMetricNameLength: Int = 200,
        maxLabels: Int = 32,
        maxLabelNameLength: Int = 128,
        maxLabelValueLength: Int = 1024
    ) {
        self.maxMetricNameLength = maxMetricNameLength
        self.maxLabels = maxLabels
        self.maxLabelNameLength = maxLabelNameLength
        self.maxLabelValueLength = maxLabelValueLength
    }

    public static let `default` = SampleLimits()
}
