import Foundation
import HummingbirdTesting
import PulseCore
@testable import PulseServer
import Testing

/// Request heads are bounded in size, header fields and time, and what goes
/// beyond gets an answer with a JSON body and a closed connection, through a
/// real server and raw TCP; the server stays well for the next client.
@Suite struct RequestHeadTests {
    func history(metricBytes: Int) -> String {
        "GET /history?metric=" + String(repeating: "a", count: metricBytes) + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    }

    /// A plain request on a new connection is answered: the server was not harmed.
    func expectHealthy(_ port: Int) async throws {
        let client = try RawHTTPClient(port: port)
        await client.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        #expect(await client.readResponses(1).status == 200)
    }

    @Test func anOversizedRequestLineGets414AndTheConnectionCloses() async throws {
        try await withTestGateway { _, client in
            let port = try #require(client.port)
            let raw = try RawHTTPClient(port: port)
            await raw.send(history(metricBytes: 100_000))
            let answer = await raw.readUntilClosed()
            #expect(answer.status == 414, "\(answer.text.prefix(300))")
            #expect(answer.error?.contains("--max-request-head-bytes") == true, "\(answer.text.prefix(300))")
            #expect(answer.error?.contains("65536 bytes") == true)
            #expect(answer.closed)
            // 70,000 characters are beyond the 64 KiB default too (NIO's own limit is 80 KB).
            let seventy = try RawHTTPClient(port: port)
            await seventy.send(history(metricBytes: 70_000))
            #expect(await seventy.readUntilClosed().status == 414)
            // Within it, the request reaches the route, which refuses the name (400).
            let within = try RawHTTPClient(port: port)
            await within.send(history(metricBytes: 60_000))
            let refused = await within.readResponses(1)
            #expect(refused.status == 400 && refused.error?.contains("60000 bytes long") == true, "\(refused.text.prefix(300))")
            try await expectHealthy(port)
        }
    }

    @Test func headerFieldsOverTheByteLimitOrTooManyGet431() async throws {
        try await withTestGateway { _, client in
            let port = try #require(client.port)
            let big = try RawHTTPClient(port: port)
            await big.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "b", count: 70_000) + "\r\n\r\n")
            let large = await big.readUntilClosed()
            #expect(large.status == 431 && large.closed, "\(large.text.prefix(300))")
            #expect(large.error?.contains("--max-request-head-bytes") == true)
            // 10,000 tiny fields: 60 KB, within the byte limit, far beyond the count.
            let many = try RawHTTPClient(port: port)
            await many.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + String(repeating: "a: b\r\n", count: 10_000) + "\r\n")
            let bomb = await many.readUntilClosed()
            #expect(bomb.status == 431 && bomb.closed, "\(bomb.text.prefix(300))")
            #expect(bomb.error?.contains("more than 100 header fields") == true && bomb.error?.contains("--max-request-headers") == true)
            // 100 fields are allowed.
            let hundred = try RawHTTPClient(port: port)
            await hundred.send("GET /healthz HTTP/1.1\r\n" + (1...99).map { "x-\($0): y\r\n" }.joined() + "Host: 127.0.0.1\r\n\r\n")
            #expect(await hundred.readResponses(1).status == 200)
            try await expectHealthy(port)
        }
    }

    /// Every refusal is counted by its reason at `/metrics`, exactly.
    @Test func refusedHeadsAreCountedByReason() async throws {
        try await withTestGateway({ $0.http.requestHeadTimeout = .seconds(1) }) { _, client in
            let port = try #require(client.port)
            // On a connection of its own each time: a kept-alive one goes idle past the 1 s timeout here.
            func scrape() async throws -> MetricsTests.Scrape {
                let raw = try RawHTTPClient(port: port)
                await raw.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                let received = await raw.readUntilClosed()
                return MetricsTests.Scrape(received.text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n"))
            }
            let reasons = ["uri_too_long", "head_too_large", "too_many_headers", "head_timeout", "malformed"]
            let before = try await scrape()
            for reason in reasons {
                #expect(before.values[#"pulsegate_http_heads_refused_total{reason="\#(reason)"}"#] == 0, "\(reason) present at 0")
            }
            let requests: [(String, Int)] = [
                (history(metricBytes: 100_000), 414),
                ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + String(repeating: "b", count: 70_000) + "\r\n\r\n", 431),
                ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + String(repeating: "a: b\r\n", count: 200) + "\r\n", 431),
                ("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: s", 408),  // never ends
                ("NONSENSE\r\n\r\n", 400),
                (history(metricBytes: 100_000), 414),
            ]
            for (request, status) in requests {
                let raw = try RawHTTPClient(port: port)
                await raw.send(request)
                #expect(await raw.readUntilClosed().status == status, "\(request.prefix(40))")
            }
            let after = try await scrape()
            let counted = reasons.map { after.values[#"pulsegate_http_heads_refused_total{reason="\#($0)"}"#] ?? -1 }
            #expect(counted == [2, 1, 1, 1, 1], "\(zip(reasons, counted).map { "\($0)=\($1)" })")
        }
    }

    @Test func aDrippedHeadGets408AfterTheHeadTimeout() async throws {
        try await withTestGateway({ $0.http.requestHeadTimeout = .seconds(1) }) { _, client in
            let port = try #require(client.port)
            let raw = try RawHTTPClient(port: port)
            let head = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + String(repeating: "s", count: 200)
            let (answer, sent, started) = await raw.drip(head, pause: .milliseconds(200))
            #expect(answer.status == 408 && answer.closed, "\(answer.text.prefix(300))")
            #expect(answer.error?.contains("--request-head-timeout") == true)
            // Measured from the first byte, against the clock: not before the timeout.
            let waited = try #require(answer.firstByteAt) - started
            #expect(waited >= .milliseconds(950), "\(waited)")
            #expect(sent < 200, "the drip was cut short: \(sent) bytes sent")
            try await expectHealthy(port)
        }
    }

    @Test func aSilentConnectionIsClosedAndSlowBodiesAndLiveConnectionsAreNotTimed() async throws {
        try await withTestGateway({ $0.http.requestHeadTimeout = .seconds(1) }) { _, client in
            let port = try #require(client.port)
            let live = try await LiveClient.connect(port: port)
            let started = ContinuousClock.now
            let silent = try RawHTTPClient(port: port)
            let quiet = await silent.readUntilClosed()
            #expect(quiet.closed && quiet.text.isEmpty, "\(quiet.text.prefix(200))")
            #expect(try #require(quiet.firstByteAt) - started >= .milliseconds(950))
            // A body sent over 2.5 s, past the head timeout: body time is not head time.
            let body = #"{"samples":[{"metric":"slow_upload","value":7}]}"# + String(repeating: " ", count: 50)
            let upload = try RawHTTPClient(port: port)
            await upload.send("POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
            let (answer, _, uploadStarted) = await upload.drip(body, pieceBytes: 10, pause: .milliseconds(250))
            #expect(answer.status == 200, "\(answer.text.prefix(300))")
            #expect(ContinuousClock.now - uploadStarted >= .seconds(2))
            // The live connection, open past the timeout, still streams: it gets the upload's sample.
            #expect(ContinuousClock.now - started > .seconds(2))
            let frames = try await live.frames(2)
            #expect((frames[1]["samples"] as? [[String: Any]])?.first?["metric"] as? String == "slow_upload", "\(frames)")
            await live.close()
        }
    }

    @Test func eachHeadOnAKeptAliveConnectionIsCountedAnewAndBodiesAreNot() async throws {
        try await withTestGateway({ $0.http.maxRequestHeadBytes = 2_048 }) { _, client in
            let port = try #require(client.port)
            // A body of 10 KB, five times the head limit, then a second request: both answered.
            let body = #"{"samples":[{"metric":"kept","value":1}]}"# + String(repeating: " ", count: 10_000)
            let post = "POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
            let get = "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + String(repeating: "p", count: 1_500) + "\r\n\r\n"
            let pipelined = try RawHTTPClient(port: port)
            await pipelined.send(post + get)
            #expect(await pipelined.readResponses(2).statuses == [200, 200])
            // Chunked, the same.
            let chunks = String(repeating: "\(String(1_000, radix: 16))\r\n" + String(repeating: " ", count: 1_000) + "\r\n", count: 10)
            let first = #"{"samples":[{"metric":"kept","value":2}]}"#
            let chunkedBody = String(first.utf8.count, radix: 16) + "\r\n" + first + "\r\n" + chunks + "0\r\n\r\n"
            let chunked = try RawHTTPClient(port: port)
            await chunked.send("POST /ingest HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunkedBody + get)
            #expect(await chunked.readResponses(2).statuses == [200, 200])
            // One answered, the next oversized: 200, then 431, then the close.
            let kept = try RawHTTPClient(port: port)
            await kept.send(get)
            #expect(await kept.readResponses(1).status == 200)
            await kept.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + String(repeating: "p", count: 3_000) + "\r\n\r\n")
            let second = await kept.readUntilClosed()
            #expect(second.status == 431 && second.closed, "\(second.text.prefix(300))")
            // Pipelined the same way: the answers keep their order.
            let both = try RawHTTPClient(port: port)
            await both.send(get + "GET /healthz?x=" + String(repeating: "q", count: 3_000) + " HTTP/1.1\r\n\r\n")
            let answers = await both.readUntilClosed()
            #expect(answers.statuses == [200, 414] && answers.closed, "\(answers.text.prefix(400))")
            try await expectHealthy(port)
        }
    }

    @Test func aRequestTheParserRefusesGets400() async throws {
        try await withTestGateway { _, client in
            let port = try #require(client.port)
            let raw = try RawHTTPClient(port: port)
            await raw.send("GET\u{1} / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            let answer = await raw.readUntilClosed()
            #expect(answer.status == 400 && answer.closed, "\(answer.text.prefix(300))")
            #expect(answer.error?.contains("not valid HTTP/1.1") == true)
            // After a good request on the same connection, the same.
            let after = try RawHTTPClient(port: port)
            await after.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET / HTTP/9.Z\r\n\r\n")
            let second = await after.readUntilClosed()
            #expect(second.statuses == [200, 400] && second.closed, "\(second.text.prefix(400))")
            try await expectHealthy(port)
        }
    }
}
