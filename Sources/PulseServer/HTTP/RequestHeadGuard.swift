import Foundation
import NIOCore
import NIOHTTP1
import PulseCore

/// Bounds every request head before NIO's HTTP decoder sees it, and answers
/// what goes beyond the bounds instead of leaving the client hanging.
///
/// It sits in front of the decoder, on raw bytes, and counts each head from
/// its first byte to the empty line that ends it (bodies are skipped, by their
/// `Content-Length` or chunked framing, so that every head on a kept-alive or
/// pipelined connection is counted anew). Beyond `maxRequestHeadBytes`: 414
/// while the request line has not ended, else 431; beyond
/// `maxRequestHeaders` fields: 431; a head not complete within
/// `requestHeadTimeout` of its first byte: 408. A request NIO's decoder
/// cannot parse (`HTTPParserErrorCatcher` reports it here) gets 400. Each
/// answer has a JSON body, waits for the answers to earlier requests on the
/// connection, and closes it.
///
/// A connection silent for `requestHeadTimeout` (before its first request, or
/// after its last response on a kept-alive connection) is closed without an
/// answer, as Apache's KeepAliveTimeout does; one that is still being
/// answered, or uploading a body, is not: body time is not head time.
///
/// When a WebSocket upgrade is accepted (a 101 goes out) it lets everything
/// through untouched from then on: what follows is WebSocket frames.
final class RequestHeadGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Reading a head (perhaps not begun).
        case head
        /// Skipping a body of known length.
        case lengthBody(remaining: Int)
        /// Skipping a chunked body.
        case chunkedBody(ChunkedBodySkipper)
        /// After an upgrade request, until its answer: a client waits for the 101 before it sends more.
        case awaitingUpgrade
        /// Upgraded: the bytes are another protocol's.
        case passthrough
        /// Refused: input is dropped until the answer is out and the connection closed.
        case refused
    }

    /// What is being handed to the decoder, for a parser error to be placed.
    private enum Forwarding {
        /// Part of a head, whose end has not come.
        case partialHead
        /// A head up to its end, counted in `requestsForwarded`.
        case wholeHead
        case body
    }

    private let limits: HTTPLimits
    private var state = State.head
    private var scanner: RequestHeadScanner
    private var context: ChannelHandlerContext?
    private var forwarding: Forwarding?
    private var parserErrorDuringForward: HTTPParserError?
    /// Heads handed to the decoder whole, and responses finished: the difference is still to be answered.
    private var requestsForwarded = 0
    private var responsesEnded = 0
    /// The refusal to send once earlier requests are answered.
    private var pendingRefusal: (status: HTTPResponseStatus, message: String)?
    private var headTimer: Scheduled<Void>?
    private var idleTimer: Scheduled<Void>?
    private var lingerTimer: Scheduled<Void>?
    private var lingering = false

    /// After a refusal, how long input is still read (and dropped) before the
    /// connection is closed: closing on unread input sends a reset, which can
    /// destroy the answer before the client reads it.
    static let lingerTime = TimeAmount.seconds(2)

    private let metrics: RequestHeadMetrics

    init(limits: HTTPLimits, metrics: RequestHeadMetrics) {
        self.limits = limits
        self.metrics = metrics
        self.scanner = RequestHeadScanner(maxBytes: limits.maxRequestHeadBytes, maxFields: limits.maxRequestHeaders)
    }

    private var outstanding: Int { requestsForwarded - responsesEnded }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { armIdleTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimers()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimers()
        context.fireChannelInactive()
    }

    // MARK: Inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .passthrough:
            context.fireChannelRead(data)
            return
        case .refused:
            return
        default:
            break
        }
        cancel(&idleTimer)
        var buffer = unwrapInboundIn(data)
        while buffer.readableBytes > 0 {
            switch state {
            case .passthrough, .awaitingUpgrade:
                forward(buffer, as: .body, context: context)
                return
            case .refused:
                return
            case let .lengthBody(remaining):
                let step = min(remaining, buffer.readableBytes)
                state = step == remaining ? .head : .lengthBody(remaining: remaining - step)
                forward(buffer.readSlice(length: step)!, as: .body, context: context)
            case var .chunkedBody(skipper):
                let (consumed, ended) = skipper.skip(buffer.readableBytesView)
                state = ended ? .head : .chunkedBody(skipper)
                forward(buffer.readSlice(length: consumed)!, as: .body, context: context)
            case .head:
                if !scanner.started { startHeadTimer(context: context) }
                switch scanner.scan(buffer.readableBytesView) {
                case .incomplete:
                    forward(buffer, as: .partialHead, context: context)
                    return
                case let .complete(consumed):
                    cancel(&headTimer)
                    let framing = scanner.framing
                    let upgrade = scanner.upgrade
                    scanner.reset()
                    switch framing {
                    case _ where upgrade: state = .awaitingUpgrade
                    case .none: state = .head
                    case let .length(length): state = .lengthBody(remaining: length)
                    case .chunked: state = .chunkedBody(ChunkedBodySkipper())
                    }
                    // Counted first: the decoder may answer it (through the application) before `forward` returns.
                    requestsForwarded += 1
                    forward(buffer.readSlice(length: consumed)!, as: .wholeHead, context: context)
                case .requestLineTooLong:
                    refuse(.uriTooLong, .uriTooLong, "the request line is longer than this server's limit of \(limits.maxRequestHeadBytes) bytes for a request head (--max-request-head-bytes): send a shorter URL", context: context)
                case .headTooLarge:
                    refuse(.requestHeaderFieldsTooLarge, .headTooLarge, "the request head (request line and header fields) is larger than this server's limit of \(limits.maxRequestHeadBytes) bytes (--max-request-head-bytes)", context: context)
                case .tooManyFields:
                    refuse(.requestHeaderFieldsTooLarge, .tooManyHeaders, "the request has more than \(limits.maxRequestHeaders) header fields, this server's limit (--max-request-headers)", context: context)
                }
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if lingering, let event = event as? ChannelEvent, event == .inputClosed {
            // The client has read its answer and gone: nothing to linger for.
            closeNow(context: context)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Hands bytes to the decoder, noting what they are should it fail on them.
    private func forward(_ buffer: ByteBuffer, as kind: Forwarding, context: ChannelHandlerContext) {
        forwarding = kind
        context.fireChannelRead(wrapInboundOut(buffer))
        forwarding = nil
        if let error = parserErrorDuringForward {
            parserErrorDuringForward = nil
            answerParserError(error, in: kind, context: context)
        }
    }

    /// NIO's decoder could not parse the request: called by `HTTPParserErrorCatcher`, behind it.
    func parserErrorCaught(_ error: HTTPParserError) {
        // Decoding happens while bytes are handed over: the failure belongs to them.
        if forwarding != nil { parserErrorDuringForward = error }
    }

    private func answerParserError(_ error: HTTPParserError, in kind: Forwarding, context: ChannelHandlerContext) {
        if case .refused = state { return }
        switch kind {
        case .partialHead, .wholeHead:
            // This head never became a request: the ones before it are answered, then this one is.
            if kind == .wholeHead { requestsForwarded -= 1 }
            refuse(.badRequest, .malformed, "the request is not valid HTTP/1.1 (\(error)); the connection is closed", context: context)
        case .body:
            // A request whose body cannot be read is being answered, or waits for
            // its body: no answer can be placed after it. Only closing is left.
            state = .refused
            closeNow(context: context)
        }
    }

    // MARK: Outbound

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .passthrough = state {
            context.write(data, promise: promise)
            return
        }
        switch unwrapOutboundIn(data) {
        case let .head(head) where head.status == .switchingProtocols:
            // Inert from here on; it stays, as removing it while the upgrade
            // rebuilds the pipeline breaks the upgrade.
            state = .passthrough
            cancelTimers()
        case .head, .body:
            break
        case .end:
            responsesEnded += 1
            if case .awaitingUpgrade = state { state = .head }
        }
        context.write(data, promise: promise)
        if case .end = unwrapOutboundIn(data), outstanding <= 0 {
            if let refusal = pendingRefusal {
                pendingRefusal = nil
                send(refusal.status, refusal.message, context: context)
            } else if case .head = state, !scanner.started {
                armIdleTimer(context: context)
            }
        }
    }

    // MARK: Refusals

    private func refuse(_ status: HTTPResponseStatus, _ reason: RequestHeadMetrics.Reason, _ message: String, context: ChannelHandlerContext) {
        metrics.refused(reason)
        state = .refused
        cancel(&headTimer)
        cancel(&idleTimer)
        if outstanding > 0 {
            pendingRefusal = (status, message)
        } else {
            send(status, message, context: context)
        }
    }

    private func send(_ status: HTTPResponseStatus, _ message: String, context: ChannelHandlerContext) {
        let body = ByteBuffer(string: #"{"error":"# + Self.jsonString(message) + "}")
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json; charset=utf-8")
        headers.add(name: "content-length", value: "\(body.readableBytes)")
        headers.add(name: "connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            // The answer is out: say so with a FIN, and tell the handlers behind
            // that the client is done (they end quietly, as for a client that left).
            // Input is still read, and dropped, for a while before the close.
            let halfClosed = context.eventLoop.makePromise(of: Void.self)
            context.close(mode: .output, promise: halfClosed)
            halfClosed.futureResult.assumeIsolated().whenFailure { _ in self.closeNow(context: context) }
            self.lingerTimer = context.eventLoop.assumeIsolated().scheduleTask(in: Self.lingerTime) { self.closeNow(context: context) }
            self.lingering = true
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
    }

    /// While lingering, a close from the handlers behind waits for the linger's end.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard lingering, mode == .all else {
            context.close(mode: mode, promise: promise)
            return
        }
        if let promise { context.channel.closeFuture.cascade(to: promise) }
    }

    /// Closes the connection, telling the handlers behind first that the client is
    /// done, so that they end quietly (a bare close before the first request is
    /// logged as an error by the upgrade's waiter).
    private func closeNow(context: ChannelHandlerContext) {
        lingering = false
        cancelTimers()
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        context.close(promise: nil)
    }

    // MARK: Timers

    private func startHeadTimer(context: ChannelHandlerContext) {
        cancel(&headTimer)
        headTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.requestHeadTimeout)) {
            self.headTimer = nil
            guard case .head = self.state, self.scanner.started else { return }
            self.refuse(.requestTimeout, .headTimeout, "the request head was not complete within \(DurationText.format(milliseconds: self.limits.requestHeadTimeout.milliseconds)) of its first byte (--request-head-timeout)", context: context)
        }
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        guard idleTimer == nil else { return }
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(limits.requestHeadTimeout)) {
            self.idleTimer = nil
            guard case .head = self.state, !self.scanner.started, self.outstanding <= 0 else { return }
            // Nothing asked, nothing to answer: a quiet close, as for a kept-alive connection.
            self.state = .refused
            self.closeNow(context: context)
        }
    }

    private func cancel(_ timer: inout Scheduled<Void>?) {
        timer?.cancel()
        timer = nil
    }

    private func cancelTimers() {
        cancel(&headTimer)
        cancel(&idleTimer)
        cancel(&lingerTimer)
    }

    private static func jsonString(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        let data = (try? encoder.encode(text)) ?? Data("\"\"".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
