import Foundation
import PulseCluster

/// Cluster mode: this node's name and the PostgreSQL that every node shares.
/// Without it (the default), the gateway is one process on its SQLite file.
public struct ClusterConfiguration: Sendable {
    public var postgres: PostgresSettings
    /// Names this node: its collector's samples carry `node="<name>"`, and `/healthz` says it.
    public var node: String

    public init(postgres: PostgresSettings, node: String = ClusterConfiguration.defaultNode) {
        self.postgres = postgres
        self.node = node
    }

    /// The machine's host name (what `hostname` prints).
    public static var defaultNode: String {
        ProcessInfo.processInfo.hostName
    }
}
