import Foundation
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import PulseCore
import PulseStore
import Synchronization
import PulseTestSupport
import Testing

/// The `pulsegate` binary as a user runs it: flags, environment, signals.
@Suite(.serialized) struct ExecutableTests {
    /// The binary SwiftPM built beside the test bundle.
    static var binary: String {
        get throws {
            if let explicit = ProcessInfo.processInfo.environment["PULSEGATE_BINARY"] { return explicit }
            var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            // The test bundle may be a directory (…/PulsegatePackageTests.xctest/Contents/MacOS/…) or a file.
            for _ in 0..<4 {
                let candidate = directory.appendingPathComponent("pulsegate").path
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
                directory.deleteLastPathComponent()
            }
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "pulsegate next to \(CommandLine.arguments[0])"])
        }
    }

    /// A started `pulsegate`, its output collected, stopped by a signal.
    /// `@unchecked`: the output buffer is guarded by `lock`; the rest is set before the process starts.
    final class RunningGateway: @unchecked Sendable {
        let process = Process()
        let output = Pipe()
        let directory = NSTemporaryDirectory() + "pulsegate-bin-\(UUID().uuidString)"
        private(set) var port = 0

        init(arguments: [String], environment: [String: String] = [:]) throws {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            process.executableURL = URL(fileURLWithPath: try ExecutableTests.binary)
            process.arguments = ["--port", "0"] + arguments
            process.currentDirectoryURL = URL(fileURLWithPath: directory)
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = output
            process.standardError = output
        }

        deinit {
            if process.isRunning { process.terminate() }
            try? FileManager.default.removeItem(atPath: directory)
        }

        private var log = ""
        private let lock = NSLock()
        var text: String { lock.withLock { log } }

        /// Starts the process and waits until it says where it listens.
        func start(listening address: String = "127.0.0.1") async throws {
            listeningAddress = address
            try process.run()
            collectOutput()
            let found = await eventually(timeout: .seconds(20)) { self.listeningPort() != nil }
            guard found, let port = listeningPort() else {
                throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "pulsegate did not start:\n\(text)"])
            }
            self.port = port
        }

        /// Reads the output on a thread of its own until end of file. (A FileHandle's
        /// readabilityHandler is a dispatch source; torn down while the pipe closed, it
        /// crashed libdispatch's event loop now and then, taking the test run with it.)
        private func collectOutput() {
            let reader = output.fileHandleForReading
            Thread.detachNewThread { [weak self] in
                while case let data = reader.availableData, !data.isEmpty {
                    guard let self else { return }
                    self.lock.withLock { self.log += String(decoding: data, as: UTF8.self) }
                }
                guard let self else { return }
                self.lock.withLock { self.outputEnded = true }
            }
        }

        private var outputEnded = false
        private var listeningAddress = "127.0.0.1"

        private func listeningPort() -> Int? {
            guard let range = text.range(of: "listening on \(listeningAddress):") else { return nil }
            return Int(text[range.upperBound...].prefix { $0.isNumber })
        }

        /// One request to the running gateway, through AsyncHTTPClient (NIO, bounded by a deadline).
        func request(
            _ method: HTTPMethod = .GET, _ path: String, contentType: String? = nil, body: String? = nil, bytes: [UInt8]? = nil,
            contentEncoding: String? = nil, token: String? = nil
        ) async throws -> (Int, String) {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = method
            if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
            if let contentEncoding { request.headers.add(name: "Content-Encoding", value: contentEncoding) }
            if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
            if let body { request.body = .bytes(ByteBuffer(string: body)) }
            if let bytes { request.body = .bytes(ByteBuffer(bytes: bytes)) }
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (Int(response.status.code), String(buffer: bytes))
        }

        /// Sends `signal` and waits for the exit status; nil if the process had
        /// not exited after 20 s (it is then killed, so that the test ends).
        func stop(_ signal: Int32) async -> Int32? {
            kill(process.processIdentifier, signal)
            guard await eventually(timeout: .seconds(20), { !self.process.isRunning }) else {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                return nil
            }
            // Its last words (the store closing) are read by then.
            _ = await eventually(timeout: .seconds(5)) { self.lock.withLock { self.outputEnded } }
            return process.terminationStatus
        }
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalCommitsWhatIsPendingAndExitsZero(_ signal: Int32) async throws {
        let gateway = try RunningGateway(arguments: ["--db", "data/test.sqlite", "--collect-interval", "100ms", "--batch-age", "1h", "--batch-size", "1000000"])
        try await gateway.start()
        // Four collections published (a batch each), so four are queued behind the hour's batch age.
        let live = try await LiveClient.connect(port: gateway.port, query: "metric=host_memory_used_bytes")
        _ = try await live.frames(5, timeout: .seconds(30))
        let status = await gateway.stop(signal)
        #expect(status == 0, "exit status; output:\n\(gateway.text)")
        #expect(gateway.text.contains("store closed"))

        // An hour's batch age: only the graceful stop can have committed these.
        let store = try SampleStore.open(StoreConfiguration(path: gateway.directory + "/data/test.sqlite"))
        let memory = try await store.range(SeriesSelector(metric: "host_memory_used_bytes"), from: 0, to: Timestamp.latest)
        #expect((memory.first?.points.count ?? 0) >= 4)
        await store.close()
    }

    @Test func aGracefulStopClosesLiveConnectionsWithGoingAway() async throws {
        let gateway = try RunningGateway(arguments: [
            "--db", "data/live.sqlite", "--collect-interval", "0", "--synthetic-series", "5", "--synthetic-rate", "50",
        ])
        try await gateway.start()
        let client = try await LiveClient.connect(port: gateway.port)
        let frames = try await client.frames(10)
        #expect(seqs(frames) == seqs(frames).sorted())
        #expect(await gateway.stop(SIGTERM) == 0, "output:\n\(gateway.text)")
        let close = await client.waitForEnd()
        #expect(close?.closeCode == .goingAway, "close: \(String(describing: close))")
        #expect(close?.reason == "server shutting down")
        // Every frame that reached the client is whole and in order.
        let all = try await client.frames(await client.texts.count)
        #expect(seqs(all) == Array(Set(seqs(all))).sorted())
    }

    /// A live client that reads but never answers the close (a frozen tab, a lost network)
    /// is dropped a second after the 1001: it does not hold the stop to --shutdown-timeout.
    @Test func aLiveClientThatNeverAnswersTheCloseDoesNotHoldAStop() async throws {
        let gateway = try RunningGateway(arguments: ["--collect-interval", "0", "--synthetic-series", "1", "--shutdown-timeout", "1h"])
        try await gateway.start()
        let silent = try await RawWebSocket.open(port: gateway.port)
        #expect(silent.status == 101)
        // Subscribed once the hello frame has come (the 101 goes out before).
        let hello = await silent.readToEnd(atLeast: 1)
        #expect(hello.starts(with: [0x81]))
        let started = ContinuousClock.now
        #expect(await gateway.stop(SIGTERM) == 0, "output:\n\(gateway.text)")
        let took = ContinuousClock.now - started
        #expect(took < .seconds(5), "the stop took \(took)")
        // What it was sent ends with the close frame: FIN and opcode 8, code 1001, the reason.
        let reason = Array("server shutting down".utf8)
        let closeFrame: [UInt8] = [0x88, UInt8(2 + reason.count), 0x03, 0xE9] + reason
        let received = hello + (await silent.readToEnd())
        #expect(received.suffix(closeFrame.count).elementsEqual(closeFrame), "the last bytes: \(received.suffix(80))")
    }

    @Test func anAcknowledgedPushSurvivesSIGKILL() async throws {
        let gateway = try RunningGateway(arguments: ["--db", "data/kill.sqlite", "--collect-interval", "0", "--batch-age", "1h"])
        try await gateway.start()
        // A recent ts: one older than the retention could be deleted by the retention run at start.
        let ts = Timestamp.now() - 60_000
        let (status, _) = try await gateway.request(.POST, "/ingest", contentType: "application/json", body: #"{"samples":[{"metric":"durable","ts":\#(ts),"value":42}]}"#)
        #expect(status == 200)
        // No graceful stop: the process dies at once, with an hour-long batch age.
        #expect(await gateway.stop(SIGKILL) == SIGKILL)
        let store = try SampleStore.open(StoreConfiguration(path: gateway.directory + "/data/kill.sqlite"))
        let points = try await store.range(SeriesSelector(metric: "durable"), from: 0, to: Timestamp.latest).flatMap(\.points)
        #expect(points == [Point(ts, 42)])
        await store.close()
    }

    /// Connections opened but never used (a browser's preconnect, a port probe)
    /// or left halfway through a request head have nothing to finish: a stop closes them.
    @Test func connectionsWithoutARequestDoNotHoldAStop() async throws {
        let gateway = try RunningGateway(arguments: ["--collect-interval", "0", "--shutdown-timeout", "1h"])
        try await gateway.start()
        let unused = try RawTCPConnection(port: gateway.port)
        let halfHead = try RawTCPConnection(port: gateway.port)
        halfHead.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        // Both accepted, and the half head read off the socket (the kernel's queues say so).
        #expect(await eventually(timeout: .seconds(20)) { LoopbackSockets.serverHasReadEverything(serverPort: gateway.port, from: [unused, halfHead]) })
        let started = ContinuousClock.now
        #expect(await gateway.stop(SIGTERM) == 0, "output:\n\(gateway.text)")
        #expect(ContinuousClock.now - started < .seconds(10))
        withExtendedLifetime((unused, halfHead)) {}
    }

    /// An upload that stalls halfway would hold a graceful stop forever: after
    /// `--shutdown-timeout` it is cut off, and what was acknowledged is still committed.
    @Test func aStalledUploadIsCutOffAtTheShutdownTimeout() async throws {
        let gateway = try RunningGateway(arguments: [
            "--db", "data/stall.sqlite", "--collect-interval", "0", "--batch-age", "1h", "--shutdown-timeout", "1s",
        ])
        try await gateway.start()
        let ts = Timestamp.now() - 60_000
        let (status, _) = try await gateway.request(.POST, "/ingest", contentType: "application/json", body: #"{"samples":[{"metric":"before_stop","ts":\#(ts),"value":1}]}"#)
        #expect(status == 200)
        let upload = try RawTCPConnection(port: gateway.port)
        upload.send("POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
            + #"{"samples":[{"metric":"stalled","ts":\#(ts),"value":1}"#)
        // The head and the start of the body read off the socket: a request in progress.
        let read = await eventually(timeout: .seconds(20)) { LoopbackSockets.serverHasReadEverything(serverPort: gateway.port, from: [upload]) }
        #expect(read, "sockets of the server's port: \(LoopbackSockets.entries().filter { $0.localPort == gateway.port || $0.remotePort == gateway.port }); the client's is \(LoopbackSockets.port(of: upload.fd))")
        let started = ContinuousClock.now
        #expect(await gateway.stop(SIGTERM) == 0, "output:\n\(gateway.text)")
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(900) && took < .seconds(10), "stopped after \(took)")
        let store = try SampleStore.open(StoreConfiguration(path: gateway.directory + "/data/stall.sqlite"))
        #expect(try await store.range(SeriesSelector(metric: "before_stop"), from: 0, to: Timestamp.latest).flatMap(\.points) == [Point(ts, 1)])
        #expect(try await store.range(SeriesSelector(metric: "stalled"), from: 0, to: Timestamp.latest).isEmpty)
        await store.close()
        withExtendedLifetime(upload) {}
    }

    /// A session that uses tokens every way, logged at trace level, leaves none of them in the output.
    @Test func tokensNeverReachTheLogs() async throws {
        let token = "tok" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let wrong = "wrong" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let gateway = try RunningGateway(
            arguments: ["--collect-interval", "0", "--log-level", "trace"],
            environment: ["PULSEGATE_TOKENS": "read,write,metrics:\(token)"]
        )
        try await gateway.start()
        #expect(try await gateway.request(.POST, "/ingest", contentType: "application/json", body: #"{"samples":[{"metric":"m","value":1}]}"#, token: token).0 == 200)
        #expect(try await gateway.request(.GET, "/history?metric=m", token: token).0 == 200)
        #expect(try await gateway.request(.GET, "/history?metric=m&token=\(token)").0 == 401)
        #expect(try await gateway.request(.GET, "/metrics", token: wrong).0 == 401)
        let live = try await RawWebSocket.open(port: gateway.port, query: "token=\(token)")
        #expect(live.status == 101)
        let refused = try await RawWebSocket.open(port: gateway.port, query: "token=\(wrong)")
        #expect(refused.status == 401)
        #expect(await gateway.stop(SIGTERM) == 0)
        let log = gateway.text
        #expect(log.contains("request"), "trace logging was on:\n\(log.prefix(2000))")
        #expect(!log.contains(token) && !log.contains(wrong), "a token in the log:\n\(log)")
        // The accepted upgrade is logged too (it does not pass the HTTP router), redacted.
        #expect(log.contains("/ws/metrics?token=<redacted>"), "the upgrade was not logged:\n\(log.prefix(4000))")
    }

    /// Off loopback without tokens only when told the network is trusted; with tokens, anywhere.
    @Test(arguments: [(["--trusted-network"], [:]), ([], ["PULSEGATE_TRUSTED_NETWORK": "1"]), ([], ["PULSEGATE_TOKENS": "read:\(String(repeating: "k", count: 20))"])] as [([String], [String: String])])
    func listensBeyondLoopbackWhenSafe(_ arguments: [String], _ environment: [String: String]) async throws {
        let gateway = try RunningGateway(arguments: ["--host", "0.0.0.0", "--collect-interval", "0"] + arguments, environment: environment)
        try await gateway.start(listening: "0.0.0.0")
        #expect(try await gateway.request(.GET, "/healthz").0 == 200)
        if environment["PULSEGATE_TOKENS"] != nil {
            // With tokens, a request without one is refused.
            let (status, body) = try await gateway.request(.GET, "/history?metric=m")
            #expect(status == 401 && body.contains("error"), "\(status) \(body)")
            #expect(try await gateway.request(.GET, "/history?metric=m", token: String(repeating: "k", count: 20)).0 == 200)
        } else {
            #expect(try await gateway.request(.GET, "/history?metric=m").0 == 200)
        }
        #expect(await gateway.stop(SIGTERM) == 0)
    }

    /// Killed in the middle of sustained pushes: the file is sound, every sample
    /// acknowledged with a 200 is there, and the collector lost at most about one batch age.
    @Test func aKillDuringSustainedIngestLosesNothingAcknowledged() async throws {
        let gateway = try RunningGateway(arguments: ["--db", "data/crash.sqlite", "--collect-interval", "100ms", "--batch-age", "250ms"])
        try await gateway.start()
        let start = Timestamp.now() - 3_600_000
        let ledger = PushLedger()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for pusher in 0..<4 {
                group.addTask {
                    var batch = 0
                    while !ledger.stop.load(ordering: .relaxed) {
                        // 200 samples a request, each ts unique to its pusher and batch.
                        let base = start + Int64((pusher * 100_000 + batch) * 200)
                        let samples = (0..<200).map { #"{"metric":"crash","labels":{"p":"\#(pusher)"},"ts":\#(base + Int64($0)),"value":\#($0)}"# }
                        let body = #"{"samples":["# + samples.joined(separator: ",") + "]}"
                        guard let (status, _) = try? await gateway.request(.POST, "/ingest", contentType: "application/json", body: body) else { return }
                        if status == 200 { ledger.acknowledged.withLock { $0 += (0..<200).map { base + Int64($0) } } }
                        batch += 1
                    }
                }
            }
            // Sustained: a second and a half at least, and a thousand samples acknowledged however slow the machine.
            try await Task.sleep(for: .milliseconds(1500))
            _ = await eventually(timeout: .seconds(60)) { ledger.acknowledged.withLock { $0.count } >= 1_000 }
            let killedAt = Timestamp.now()
            #expect(await gateway.stop(SIGKILL) == SIGKILL)
            ledger.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()

            let store = try SampleStore.open(StoreConfiguration(path: gateway.directory + "/data/crash.sqlite"))
            #expect(try await store.checkIntegrity() == ["ok"])
            let stored = Set(try await store.range(SeriesSelector(metric: "crash"), from: 0, to: Timestamp.latest).flatMap(\.points).map(\.timestamp))
            let acked = ledger.acknowledged.withLock { $0 }
            #expect(acked.count >= 1_000, "the pushes kept going: \(acked.count) acknowledged")
            #expect(acked.filter { !stored.contains($0) }.isEmpty, "\(acked.filter { !stored.contains($0) }.count) of \(acked.count) acknowledged samples are missing")
            let collected = try await store.range(SeriesSelector(metric: "host_memory_total_bytes"), from: 0, to: Timestamp.latest).flatMap(\.points)
            let newest = try #require(collected.last?.timestamp)
            // The contract is one batch age (250 ms); the rest is slack for a busy machine.
            #expect(killedAt - newest < 3_000, "the collector's newest stored sample is \(killedAt - newest) ms before the kill")
            await store.close()
        }
    }

    /// A disk that fills up: pushes are refused with 503 and a clear error, the
    /// server, its collector and the live stream go on, and writes resume once
    /// there is room again. The disk is a 3 MB tmpfs, which needs root (CI runs as root).
    @Test(.enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
    func aFullDiskRefusesPushesAndRecovers() async throws {
        let gateway = try RunningGateway(arguments: ["--db", "disk/db.sqlite", "--collect-interval", "200ms", "--batch-age", "100ms"])
        let disk = gateway.directory + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m", "tmpfs", disk])
        defer { try? run("/bin/umount", ["-l", disk]) }
        try await gateway.start()
        let live = try await LiveClient.connect(port: gateway.port, query: "metric=host_memory_total_bytes")
        var next = Timestamp.now() - 3_600_000
        func push() async throws -> (Int, String) {
            let samples = (0..<1_000).map { #"{"metric":"disk","labels":{"k":"v"},"ts":\#(next + Int64($0)),"value":\#($0)}"# }
            next += 1_000
            return try await gateway.request(.POST, "/ingest", contentType: "application/json", body: #"{"samples":["# + samples.joined(separator: ",") + "]}")
        }
        #expect(try await push().0 == 200)

        // Fill what is left of the disk.
        let filler = disk + "/filler"
        FileManager.default.createFile(atPath: filler, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: filler))
        while (try? handle.write(contentsOf: Data(count: 64 * 1024))) != nil {}
        try? handle.close()

        var refusal: String?
        for _ in 0..<60 {
            let (status, body) = try await push()
            if status == 503 {
                refusal = body
                break
            }
            #expect(status == 200, "\(body)")
        }
        let body = try #require(refusal, "no push was refused on a full disk")
        #expect(body.contains("not stored") && body.contains("full"), "\(body)")
        // remote_write too, with a 5xx: a sender retries those (and drops a 4xx).
        let written = RemoteWriteEncoder.writeRequest([.init([("__name__", "disk_rw")], samples: [(next, 1)])])
        let (remoteWrite, remoteWriteBody) = try await gateway.request(
            .POST, "/api/v1/write", contentType: "application/x-protobuf", bytes: SnappyBlock.compress(written), contentEncoding: "snappy"
        )
        #expect(remoteWrite == 503 && remoteWriteBody.contains("not stored"), "\(remoteWrite) \(remoteWriteBody)")
        // And a Pushgateway push: 503, the group stamped as failed, nothing of it exposed.
        let (pushed, pushedBody) = try await gateway.request(.PUT, "/metrics/job/disk", contentType: "text/plain", body: "disk_pg 1\n")
        #expect(pushed == 503 && pushedBody.contains("not stored"), "\(pushed) \(pushedBody)")
        let exposition = try await gateway.request(.GET, "/metrics").1
        #expect(!exposition.contains("disk_pg") && exposition.contains(#"push_time_seconds{instance="",job="disk"} 0"#), "\(exposition.suffix(600))")
        #expect(!exposition.contains(#"push_failure_time_seconds{instance="",job="disk"} 0"#))
        // Still up: health answers, and the live stream still gets the collector's samples.
        #expect(try await gateway.request(.GET, "/healthz").0 == 200)
        let (notReady, reason) = try await gateway.request(.GET, "/readyz")
        #expect(notReady == 503 && reason.contains("cannot write"), "\(reason)")
        let before = await live.texts.count
        #expect(await eventually(timeout: .seconds(5)) { await live.texts.count > before + 2 })

        // Room again: pushes are stored again.
        try FileManager.default.removeItem(atPath: filler)
        #expect(try await eventually(timeout: .seconds(10)) { try await push().0 == 200 })
        #expect(try await gateway.request(.GET, "/readyz").0 == 200)
        await live.close()
        #expect(await gateway.stop(SIGTERM) == 0, "output:\n\(gateway.text.suffix(3000))")
        let store = try SampleStore.open(StoreConfiguration(path: disk + "/db.sqlite"))
        #expect(try await store.checkIntegrity() == ["ok"])
        await store.close()
    }

    /// Runs a command to its end; throws if it fails.
    private func run(_ executable: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "\(executable) \(arguments.joined(separator: " ")) failed"])
        }
    }

    /// `/healthz` of the binary, two seconds on: within the wall clock's bounds of the process's life.
    @Test func uptimeIsTheProcesssLife() async throws {
        let gateway = try RunningGateway(arguments: ["--collect-interval", "0"])
        let launched = ContinuousClock.now
        try await gateway.start()
        let listening = ContinuousClock.now  // its start was taken before it said so
        try await Task.sleep(for: .milliseconds(2_100))
        let asked = ContinuousClock.now
        let (status, body) = try await gateway.request(.GET, "/healthz")
        let answered = ContinuousClock.now
        #expect(status == 200)
        let uptime = try #require((try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["uptime_seconds"] as? Double)
        let least = (asked - listening).seconds - 0.001, most = (answered - launched).seconds + 0.001
        #expect(uptime >= 2 && uptime >= least && uptime <= most, "uptime \(uptime), expected \(least)...\(most)")
        #expect(await gateway.stop(SIGTERM) == 0)
    }

    /// Tokens from a real `--token-file` (and `PULSEGATE_TOKEN_FILE`): scopes as written, comments skipped.
    @Test(arguments: [true, false])
    func aTokenFileGrantsItsScopes(_ asFlag: Bool) async throws {
        let reader = "r" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let writer = "w" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let file = NSTemporaryDirectory() + "pulsegate-tokens-\(UUID().uuidString)"
        try "# who may do what\nread:\(reader)\n\nread,write:\(writer)\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let gateway = try RunningGateway(
            arguments: ["--collect-interval", "0"] + (asFlag ? ["--token-file", file] : []),
            environment: asFlag ? [:] : ["PULSEGATE_TOKEN_FILE": file]
        )
        try await gateway.start()
        let push = #"{"samples":[{"metric":"m","value":1}]}"#
        #expect(try await gateway.request(.GET, "/history?metric=m").0 == 401)
        #expect(try await gateway.request(.GET, "/history?metric=m", token: reader).0 == 200)
        #expect(try await gateway.request(.POST, "/ingest", contentType: "application/json", body: push, token: reader).0 == 403)
        #expect(try await gateway.request(.POST, "/ingest", contentType: "application/json", body: push, token: writer).0 == 200)
        #expect(try await gateway.request(.GET, "/history?metric=m", token: "not-in-the-file-\(reader)").0 == 401)
        #expect(try await gateway.request(.GET, "/healthz").0 == 200, "health stays open")
        #expect(await gateway.stop(SIGTERM) == 0)
    }

    /// Pages of an allowed origin may open the live stream; others get a 403; from the flag and from the environment.
    @Test(arguments: [true, false])
    func allowedOriginsOpenTheLiveStream(_ asFlag: Bool) async throws {
        let gateway = try RunningGateway(
            arguments: ["--collect-interval", "0"] + (asFlag ? ["--allowed-origin", "https://dash.example", "--allowed-origin", "https://other.example:8443"] : []),
            environment: asFlag ? [:] : ["PULSEGATE_ALLOWED_ORIGINS": "https://dash.example, https://other.example:8443"]
        )
        try await gateway.start()
        for origin in ["https://dash.example", "https://other.example:8443", "https://DASH.example/"] {
            let allowed = try await RawWebSocket.open(port: gateway.port, headers: ["Origin": origin])
            #expect(allowed.status == 101, "\(origin): \(allowed.response)")
            allowed.drop()
        }
        for origin in ["https://evil.example", "https://other.example", "http://dash.example"] {
            let refused = try await RawWebSocket.open(port: gateway.port, headers: ["Origin": origin])
            #expect(refused.status == 403, "\(origin): \(refused.response)")
            #expect(await refused.readRest().contains("--allowed-origin"))
        }
        #expect(await gateway.stop(SIGTERM) == 0)
    }

    @Test func environmentVariablesConfigureAndFlagsWin() async throws {
        let gateway = try RunningGateway(
            arguments: ["--collect-interval", "0"],
            environment: ["PULSEGATE_DB": "from-env/x.sqlite", "PULSEGATE_PORT": "1", "PULSEGATE_LOG_LEVEL": "debug"]
        )
        try await gateway.start()  // --port 0 wins over PULSEGATE_PORT=1
        let (status, body) = try await gateway.request(.GET, "/healthz")
        #expect(status == 200)
        #expect(body.contains("from-env\\/x.sqlite"))
        #expect(FileManager.default.fileExists(atPath: gateway.directory + "/from-env/x.sqlite"))
        #expect(await gateway.stop(SIGTERM) == 0)
    }

    @Test(arguments: [
        (["--retention", "soon"], "not a duration"),
        (["--batch-size", "0"], "--batch-size must be positive"),
        (["--port", "70000"], "--port must be between"),
        (["--log-level", "loud"], "--log-level must be one of"),
        (["--retention", "30d", "--rollup-retention", "7d"], "--rollup-retention must be at least --retention"),
        (["--shutdown-timeout", "0s"], "--shutdown-timeout must be positive"),
        (["--host", "0.0.0.0"], "refusing to listen on 0.0.0.0 without tokens"),
        (["--max-labels-per-sample", "0"], "--max-labels-per-sample must be between"),
        (["--max-label-value-bytes", "0"], "--max-label-value-bytes must be between"),
        (["--max-live-message-bytes", "10"], "--max-live-message-bytes must be between"),
        (["--max-query-points", "20000"], "--max-query-points must be between 1 and 11000"),
        (["--token-file", "/nonexistent/tokens"], "cannot read --token-file /nonexistent/tokens"),
    ])
    func badFlagsAreRefusedWithAClearMessage(_ arguments: [String], _ message: String) async throws {
        let gateway = try RunningGateway(arguments: arguments)
        try gateway.process.run()
        gateway.process.waitUntilExit()
        let text = String(decoding: gateway.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(gateway.process.terminationStatus != 0)
        #expect(text.contains(message), "output: \(text)")
    }

    /// Cluster settings that cannot work stop the start with a message naming the
    /// flag, and never showing the password (`pw-s3cr3t`).
    @Test(arguments: [
        (["--postgres-url", "mysql://gate:pw-s3cr3t@h/db"], "--postgres-url: mysql://gate:***@h/db must start with postgres://"),
        (["--postgres-url", "postgres://gate:pw-s3cr3t@h"], "--postgres-url: postgres://gate:***@h names no database"),
        (["--postgres-url", "postgres://gate:pw-s3cr3t@h/db?sslmode=sometimes"], "--postgres-url: postgres://gate:***@h/db?sslmode=sometimes: sslmode must be one of"),
        (["--postgres-url", "postgres://gate:pw-s3cr3t@127.0.0.1:1/db"], "cannot open the cluster's PostgreSQL at postgres://gate:***@127.0.0.1:1/db"),
        (["--postgres-url", "postgres://gate@127.0.0.1:1/db", "--postgres-password-file", "/nonexistent/pw-s3cr3t"], "cannot read --postgres-password-file"),
        (["--node", "gw-1"], "--node names a cluster node: give --postgres-url too"),
    ])
    func badClusterSettingsAreRefusedNamingTheFlagNeverThePassword(_ arguments: [String], _ message: String) async throws {
        let gateway = try RunningGateway(arguments: ["--collect-interval", "0"] + arguments)
        try gateway.process.run()
        gateway.process.waitUntilExit()
        let text = String(decoding: gateway.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(gateway.process.terminationStatus != 0)
        #expect(text.contains(message), "output: \(text)")
        if !arguments.contains("--postgres-password-file") {
            #expect(!text.contains("pw-s3cr3t"), "the password was shown: \(text)")
        }
    }

    /// The password from `PULSEGATE_POSTGRES_PASSWORD` reaches PostgreSQL (a wrong one is
    /// refused by the server, with its reason), and is never printed.
    @Test(.enabled(if: TestPostgres.isAvailable, "needs PULSEGATE_TEST_POSTGRES_URL"))
    func thePasswordComesFromTheEnvironmentAndIsNeverShown() async throws {
        let serverURL = try #require(TestPostgres.url)
        var components = try #require(URLComponents(string: serverURL))
        let password = try #require(components.password)
        components.password = nil
        let wrong = try RunningGateway(
            arguments: ["--collect-interval", "0", "--postgres-url", components.string!],
            environment: ["PULSEGATE_POSTGRES_PASSWORD": "pw-s3cr3t"]
        )
        try wrong.process.run()
        wrong.process.waitUntilExit()
        let refused = String(decoding: wrong.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(wrong.process.terminationStatus != 0)
        #expect(refused.contains("password authentication failed"), "\(refused)")
        #expect(!refused.contains("pw-s3cr3t"))

        let database = try await TestPostgres.createDatabase()
        let outcome = await Result {
            var url = try #require(URLComponents(string: database.url))
            url.password = nil
            let right = try RunningGateway(
                arguments: ["--collect-interval", "0", "--postgres-url", url.string!, "--node", "exec-node"],
                environment: ["PULSEGATE_POSTGRES_PASSWORD": password]
            )
            try await right.start()
            let (status, body) = try await right.request(.GET, "/healthz")
            #expect(status == 200)
            #expect(body.contains(#""mode":"cluster""#) && body.contains(#""node":"exec-node""#), "\(body)")
            #expect(await right.stop(SIGTERM) == 0)
            #expect(!right.text.contains(password), "the password was logged")
        }
        try await database.drop()
        try outcome.get()
    }

    @Test func aBadEnvironmentVariableIsRefused() async throws {
        let gateway = try RunningGateway(arguments: [], environment: ["PULSEGATE_BATCH_AGE": "forever"])
        try gateway.process.run()
        gateway.process.waitUntilExit()
        let text = String(decoding: gateway.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(gateway.process.terminationStatus == 64)
        #expect(text.contains("PULSEGATE_BATCH_AGE"))
    }
}

/// What concurrent pushers had acknowledged, and when to stop them.
final class PushLedger: Sendable {
    let acknowledged = Mutex<[Int64]>([])
    let stop = Atomic<Bool>(false)
}
