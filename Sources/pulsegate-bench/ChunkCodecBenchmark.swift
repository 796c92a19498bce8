import ArgumentParser
import CSQLite
import Foundation
import PulseStore
import PulseTestSupport

/// `XORChunk`, the chunk codec, on the kinds of data issue 17 names: bytes
/// per sample, and encode and decode time, per chunk size. The codec alone:
/// what a chunk costs in the SQLite file (its row, the table's index) comes on top.
struct ChunkCodecBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chunk-codec",
        abstract: "XORChunk: bytes per sample and ns per sample, by kind of data and chunk size."
    )

    @Option(parsing: .upToNextOption, help: "Samples per chunk, each measured.") var sizes: [Int] = [120, 600, 3_600]
    @Option(help: "Series per kind.") var series = 20
    @Option(help: "Samples per series (1 s apart).") var samples = 7_200
    @Option(help: "Runs of the timing; medians are reported.") var runs = 3
    @Option(help: "Recorded samples too: an OpenMetrics file, gzipped (scripts/record_host_fixture.py writes one); \"\" for none.")
    var openmetrics = BenchDatasets.recordedFixture

    typealias Samples = [(timestamp: Int64, value: Double)]

    func run() async throws {
        var kinds = BenchDatasets.synthetic(series: series, samples: samples).map { ($0.name, $0.series.map(\.samples)) }
        if !openmetrics.isEmpty {
            kinds.insert((BenchDatasets.recordedName(openmetrics), try BenchDatasets.recorded(openmetrics).map(\.samples)), at: 0)
        }
        print("chunk-codec: \(series) series × \(samples) samples of each kind, 1 s apart; chunk sizes \(sizes); \(runs) runs")
        for (kind, data) in kinds {
            for size in sizes {
                let chunks = data.flatMap { series in stride(from: 0, to: series.count, by: size).map { Array(series[$0..<min($0 + size, series.count)]) } }
                let encoded = chunks.map { XORChunk.encode($0) }
                let bytes = encoded.reduce(0) { $0 + $1.count }
                let count = chunks.reduce(0) { $0 + $1.count }
                guard try encoded.map({ try XORChunk.decode($0) }).joined().map(\.value.bitPattern) == chunks.joined().map(\.value.bitPattern) else {
                    throw BenchError("a chunk did not decode to what was encoded")
                }
                var encode: [Double] = [], decode: [Double] = []
                for _ in 0..<runs {
                    encode.append(try Self.nanosecondsPerSample(count: count) { for chunk in chunks { _ = XORChunk.encode(chunk) } })
                    decode.append(try Self.nanosecondsPerSample(count: count) {
                        for chunk in encoded {
                            try chunk.withUnsafeBytes { buffer in
                                var decoder = try XORChunk.Decoder(buffer)
                                while try decoder.next() != nil {}
                            }
                        }
                    })
                }
                let rows = data.indices.flatMap { series in
                    stride(from: 0, to: data[series].count, by: size).map { (Int64(series + 1), Array(data[series][$0..<min($0 + size, data[series].count)])) }
                }
                let files = Self.Layout.allCases.map { layout in
                    "\(layout.rawValue) \(Measure.format(Double(Self.fileBytes(rows, layout: layout)) / Double(count), 2))"
                }.joined(separator: ", ")
                print("result: \(kind), \(size) samples a chunk: \(Measure.format(Double(bytes) / Double(count), 2)) bytes/sample (in a SQLite file: \(files)), encode \(Measure.format(Measure.median(encode), 1)) ns/sample, decode \(Measure.format(Measure.median(decode), 1)) ns/sample")
            }
        }
    }

    /// How chunk rows may sit in SQLite: the blob inside a WITHOUT ROWID table's
    /// key b-tree (whose rows keep about 1 KB in the page, the rest in overflow
    /// pages), or in a rowid table beside an index on the key.
    enum Layout: String, CaseIterable {
        case withoutRowID = "without rowid"
        case rowid = "rowid + index"
    }

    /// The size of a SQLite file (4 KiB pages, no journal left) holding `rows` as chunks.
    static func fileBytes(_ rows: [(series: Int64, samples: Samples)], layout: Layout) -> Int {
        let path = NSTemporaryDirectory() + "pulsegate-chunks-\(UUID().uuidString).sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let db = RawSQLite(path: path)
            db.exec("PRAGMA journal_mode = DELETE")
            switch layout {
            case .withoutRowID:
                db.exec("CREATE TABLE chunks(series_id INTEGER, start_ts INTEGER, end_ts INTEGER, count INTEGER, data BLOB, PRIMARY KEY(series_id, start_ts)) WITHOUT ROWID")
            case .rowid:
                db.exec("CREATE TABLE chunks(id INTEGER PRIMARY KEY, series_id INTEGER, start_ts INTEGER, end_ts INTEGER, count INTEGER, data BLOB)")
                db.exec("CREATE UNIQUE INDEX chunks_key ON chunks(series_id, start_ts)")
            }
            db.exec("BEGIN")
            let insert = db.prepare("INSERT INTO chunks(series_id, start_ts, end_ts, count, data) VALUES (?, ?, ?, ?, ?)")
            for (series, samples) in rows {
                let chunk = XORChunk.encode(samples)
                sqlite3_bind_int64(insert, 1, series)
                sqlite3_bind_int64(insert, 2, samples.first!.timestamp)
                sqlite3_bind_int64(insert, 3, samples.last!.timestamp)
                sqlite3_bind_int64(insert, 4, Int64(samples.count))
                _ = chunk.withUnsafeBytes { sqlite3_bind_blob(insert, 5, $0.baseAddress, Int32($0.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self)) }
                guard sqlite3_step(insert) == SQLITE_DONE else { fatalError(String(cString: sqlite3_errmsg(db.db))) }
                sqlite3_reset(insert)
            }
            sqlite3_finalize(insert)
            db.exec("COMMIT")
        }
        return Measure.fileSize(path)
    }

    static func nanosecondsPerSample(count: Int, _ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let elapsed = try clock.measure(body)
        return Double(elapsed.components.seconds) * 1e9 / Double(count) + Double(elapsed.components.attoseconds) / 1e9 / Double(count)
    }
}
