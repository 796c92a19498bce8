import Testing

/// The suites that keep a core busy for seconds (the fuzzers, 3 s each by
/// default), one after another: on a 2-core machine, two of them side by side
/// would leave the timing-sensitive tests running beside them no core at all.
@Suite(.serialized) enum CPUBoundSuites {}
