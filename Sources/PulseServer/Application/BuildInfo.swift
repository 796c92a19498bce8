/// What this binary is, for `/healthz` (and the build info gauge later).
public enum BuildInfo {
    public static let version = "0.1.0"

    /// The Swift compiler that built it, to the minor version.
    public static let swiftVersion: String = {
        #if compiler(>=6.4)
        return "6.4+"
        #elseif compiler(>=6.3)
        return "6.3"
        #elseif compiler(>=6.2)
        return "6.2"
        #elseif compiler(>=6.1)
        return "6.1"
        #else
        return "6.0"
        #endif
    }()
}
