/// Where a connecting client wants its stream to start.
public enum ResumePoint: Sendable, Equatable {
    /// After batch `seq` of server instance `instance`; if the instance is another
    /// one (the server restarted), `fallbackTimestamp` is used instead when given.
    case sequence(UInt64, instance: String?, fallbackTimestamp: Int64?)
    /// Every sample with a ts after this one (ms since the epoch).
    case timestamp(Int64)
}
