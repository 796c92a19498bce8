/// The names the host collector writes, in one place for the README, the
/// dashboard and Grafana. Ratios are 0…1; sizes are bytes; rates are per second.
public enum HostMetricNames {
    /// Busy share of CPU time; label `cpu` is "all" or the core number.
    public static let cpuUsage = "host_cpu_usage_ratio"
    public static let memoryTotal = "host_memory_total_bytes"
    public static let memoryAvailable = "host_memory_available_bytes"
    public static let memoryUsed = "host_memory_used_bytes"
    public static let load1 = "host_load1"
    public static let load5 = "host_load5"
    public static let load15 = "host_load15"
    /// Label `device`.
    public static let networkReceive = "host_network_receive_bytes_per_second"
    /// Label `device`.
    public static let networkTransmit = "host_network_transmit_bytes_per_second"
    /// Pulsegate's own CPU time as a share of the whole machine (all cores), 0…1.
    public static let processCPUUsage = "pulsegate_process_cpu_usage_ratio"
    public static let processResidentMemory = "pulsegate_process_resident_memory_bytes"
}
