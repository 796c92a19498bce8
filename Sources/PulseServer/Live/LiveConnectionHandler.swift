import NIOCore
import PulseCore
import PulseLive

/// One live subscriber's WebSocket connection, after the upgrade: the only
/// handler in its channel's pipeline, on its event loop, with no task.
///
/// It is the hub's sink: the hub writes complete frames (header and payload,
/// built once per publish, filter and wire format) straight to the socket and
/// flushes once per drain. The channel's outbound buffer is the subscriber's
/// bounded queue: its high-water mark is the hub's `outboxBytes`. While the
/// connection is not writable, the handler stops reading, so a client that
/// sends without reading cannot make the server queue answers for it.
///
/// It speaks RFC 6455 itself: client frames are parsed and checked
/// (`ClientFrameParser`), joined into messages (`ClientMessageAssembler`),
/// pings answered, pongs awaited (`LoopPinger`), and any violation fails the
/// connection with its close code; then nothing more is read, and the
/// connection is closed when the client closes its side or `closeTimeout`
/// after the close frame. Messages are JSON texts (`LiveClientMessage`).
final class LiveConnectionHandler: ChannelInboundHandler, LiveSink, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        case open
        /// Our close frame is out; waiting for the client's (or its side to close).
        case closing
        /// The connection was failed: input is dropped until the client leaves or the timeout.
        case failed
        case closed
    }

    let eventLoop: any EventLoop
    let wireFormat: LiveWireFormat
    private let settings: LiveConnectionSettings
    private let request: LiveRequest
    private let pinger: LoopPinger
    private var context: ChannelHandlerContext?
    private var parser: ClientFrameParser
    private var assembler: ClientMessageAssembler
    private var phase = Phase.open
    private var subscription: LiveSubscription?
    /// A filter the client asked for before its subscription was in place (a resume that waits for the log).
    private var earlyFilter: SubscriptionFilter?
    private var awaitingPong = false
    /// The channel's writability, as its last change said: read for every frame the
    /// hub writes, so kept here rather than asked of the channel each time.
    private var writable = true
    /// The latest ping to answer once the connection is writable again (RFC 6455 §5.5.3 allows answering only the latest).
    private var pendingPong: [UInt8]?

    init(request: LiveRequest, compressed: Bool, settings: LiveConnectionSettings, eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.request = request
        self.settings = settings
        self.wireFormat = compressed ? (settings.deflate ?? .webSocketText) : .webSocketText
        self.pinger = settings.pingers.pinger(for: eventLoop)
        parser = ClientFrameParser(maxPayload: settings.maxMessageBytes, compressionNegotiated: compressed)
        assembler = ClientMessageAssembler(maxMessageBytes: settings.maxMessageBytes)
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
        let high = max(settings.hub.configuration.outboxBytes, 2)
        try? context.channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: high / 2, high: high))
        pinger.add(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        ended()
        self.context = nil
    }

    /// Joins the hub: at once, or, when the resume may need the stream's log
    /// (cluster mode), once the log has been read, in a task that lasts that long.
    func subscribe() {
        let hub = settings.hub
        guard hub.resumeMayReadLog(request.resume) else {
            attach(hub.subscribe(self, filter: request.filter, resume: request.resume))
            return
        }
        let request = request
        Task {
            let earlier = await hub.earlierBatches(for: request.resume)
            eventLoop.execute { [self] in
                attach(hub.subscribe(self, filter: request.filter, resume: request.resume, earlier: earlier))
            }
        }
    }

    private func attach(_ subscription: LiveSubscription) {
        eventLoop.preconditionInEventLoop()
        guard phase == .open || phase == .closing else {
            subscription.cancel()
            return
        }
        self.subscription = subscription
        if let filter = earlyFilter.take() { subscription.update(filter) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        ended()
        context.fireChannelInactive()
    }

    /// The connection is gone: leave the hub and the pinger (once).
    private func ended() {
        guard phase != .closed else { return }
        phase = .closed
        subscription?.cancel()
        subscription = nil
        pinger.remove(self)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case is ChannelShouldQuiesceEvent:
            startClose(code: WebSocketCloseCode.goingAway, reason: "server shutting down")
        case ChannelEvent.inputClosed:
            context.close(promise: nil)  // the client closed its side: nothing more can come
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        // Read only what can be answered: a client that does not read is not read either.
        try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: writable)
        if writable, let payload = pendingPong.take(), phase == .open {
            context.writeAndFlush(wrapOutboundOut(ServerFrame.make(.pong, payload: payload)), promise: nil)
        }
        context.fireChannelWritabilityChanged()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard phase == .open || phase == .closing else { return }
        do {
            try parser.parse(unwrapInboundIn(data)) { (frame) throws(WebSocketViolation) in
                try handle(frame)
            }
        } catch {
            fail(error)
        }
    }

    private func handle(_ frame: ClientFrame) throws(WebSocketViolation) {
        guard phase == .open || phase == .closing else { return }
        switch frame.opcode {
        case .ping:
            guard phase == .open, let context else { return }
            if writable {
                context.writeAndFlush(wrapOutboundOut(ServerFrame.make(.pong, payload: frame.payload)), promise: nil)
            } else {
                pendingPong = frame.payload
            }
        case .pong:
            awaitingPong = false
        case .close:
            try closeReceived(frame.payload)
        case .text, .binary, .continuation:
            // After our close frame, data is not for us any more (RFC 6455 §5.5.1).
            guard phase == .open, let message = try assembler.append(frame) else { return }
            handle(message)
        }
    }

    private func handle(_ message: ClientMessage) {
        guard case let .text(text) = message else {
            settings.metrics.malformed.increment()
            subscription?.reportError("binary messages are not understood: send JSON text")
            return
        }
        switch LiveClientMessage.decode(text) {
        case let .success(.subscribe(filter)):
            if let subscription { subscription.update(filter) } else { earlyFilter = filter }
        case let .failure(error):
            settings.metrics.malformed.increment()
            subscription?.reportError(error.description)
        }
    }

    /// The client's close frame: the answer to ours, or its own, which is
    /// checked, echoed, and followed by closing the connection (the server
    /// closes TCP first, RFC 6455 §7.1.1).
    private func closeReceived(_ payload: [UInt8]) throws(WebSocketViolation) {
        guard phase == .open else {
            context?.close(promise: nil)
            return
        }
        var code = WebSocketCloseCode.normal
        if !payload.isEmpty {
            guard payload.count >= 2 else { throw .protocolError("a close frame's payload is a 2-byte code and a reason") }
            code = UInt16(payload[0]) << 8 | UInt16(payload[1])
            guard WebSocketCloseCode.isValidOnTheWire(code) else { throw .protocolError("close code \(code) is not one a peer may send") }
            guard String(validating: payload.dropFirst(2), as: UTF8.self) != nil else {
                throw WebSocketViolation(code: WebSocketCloseCode.invalidPayload, reason: "a close reason that is not valid UTF-8")
            }
        }
        phase = .closing
        guard let context else { return }
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(ServerFrame.close(code: code, reason: ""))).whenComplete { _ in
            channel.close(promise: nil)
        }
    }

    // MARK: Closing

    /// Fails the connection (RFC 6455 §7.1.7): the close frame with the
    /// violation's code, then nothing more is read or written.
    private func fail(_ violation: WebSocketViolation) {
        if violation.code == WebSocketCloseCode.messageTooBig {
            settings.metrics.tooLarge.increment()
        } else {
            settings.metrics.protocolViolations.increment()
        }
        guard phase == .open || phase == .closing else { return }
        let wasOpen = phase == .open
        phase = .failed
        guard let context else { return }
        if wasOpen {
            context.writeAndFlush(wrapOutboundOut(ServerFrame.close(code: violation.code, reason: violation.reason)), promise: nil)
        }
        scheduleCloseTimeout()
    }

    /// Starts the close handshake: the close frame after what was written,
    /// then the client's answer, or the timeout.
    private func startClose(code: UInt16, reason: String) {
        guard phase == .open, let context else { return }
        phase = .closing
        context.writeAndFlush(wrapOutboundOut(ServerFrame.close(code: code, reason: reason)), promise: nil)
        scheduleCloseTimeout()
    }

    /// A client that stopped reading never lets the close frame through, and
    /// one that reads but never answers (a frozen tab, a lost network) would
    /// hold the connection, and a graceful stop: the connection is dropped
    /// after `closeTimeout`. (Not cancelled when the handshake ends first: it
    /// then finds the connection closed.)
    private func scheduleCloseTimeout() {
        eventLoop.scheduleTask(in: settings.closeTimeout) { [self] in
            if phase != .closed { context?.close(promise: nil) }
        }
    }

    /// Called by the loop's pinger every ping interval.
    func pingTick() {
        guard phase == .open, let context else { return }
        if awaitingPong {
            settings.metrics.pingTimeouts.increment()
            context.writeAndFlush(wrapOutboundOut(ServerFrame.close(code: WebSocketCloseCode.goingAway, reason: "no pong within \(pinger.interval.nanoseconds / 1_000_000) ms")), promise: nil)
            context.close(promise: nil)
            return
        }
        awaitingPong = true
        context.writeAndFlush(wrapOutboundOut(ServerFrame.emptyPing), promise: nil)
    }

    // MARK: LiveSink

    var isWritable: Bool {
        writable && context != nil
    }

    func write(_ frame: ByteBuffer) {
        guard phase == .open, let context else { return }
        context.write(wrapOutboundOut(frame), promise: nil)
    }

    func flush() {
        context?.flush()
    }

    func close(_ reason: LiveCloseReason) {
        switch reason {
        case .goingAway: startClose(code: WebSocketCloseCode.goingAway, reason: "server shutting down")
        case let .tooSlow(dropped): startClose(code: WebSocketCloseCode.policyViolation, reason: "client too slow: \(dropped) frames dropped")
        }
    }
}
