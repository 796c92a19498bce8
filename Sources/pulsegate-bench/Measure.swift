import AsyncHTTPClient
import Foundation
import NIOCore

/// Small helpers shared by the benchmarks.
enum Measure {
    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        guard !sorted.isEmpty else { return .nan }
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    /// A fresh directory for one run's database files.
    /// The size of a regular file in bytes; 0 when there is none (a directory, a missing log).
    static func fileSize(_ path: String) -> Int {
        var status = stat()
        guard stat(path, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else { return 0 }
        return Int(status.st_size)
    }

    static func scratchDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "pulsegate-bench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func format(_ value: Double, _ digits: Int = 0) -> String {
        String(format: "%.\(digits)f", value)
    }
}

extension HTTPClient {
    /// The body of `GET url`, which must answer 200 (anything else is the benchmark's error).
    func getOK(_ url: String) async throws -> ByteBuffer {
        let response = try await execute(HTTPClientRequest(url: url), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 256 << 20)
        guard response.status == .ok else {
            throw BenchError("GET \(url): \(response.status) \(String(buffer: body.getSlice(at: body.readerIndex, length: min(body.readableBytes, 500)) ?? body))")
        }
        return body
    }
}
