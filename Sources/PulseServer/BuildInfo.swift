/// What this binary is, for `/healthz` (and the build info gauge later).
public enum BuildInfo {
    public static let version = "0.1.0"
}
