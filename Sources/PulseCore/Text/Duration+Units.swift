extension Duration {
    /// Whole milliseconds, rounded toward negative infinity (`Duration.components`
    /// keeps the sub-second part in attoseconds, always non-negative).
    /// The one conversion from `Duration` to the store's and the wire's milliseconds.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a `Double`, sub-second part included (for figures such as uptimes and rates).
    public var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
