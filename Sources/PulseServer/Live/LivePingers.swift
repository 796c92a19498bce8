import NIOCore
import Synchronization

/// Keeps live connections honest: every `interval`, each open connection is
/// pinged, and one that has not answered the previous ping is closed.
///
/// One timer per event loop for all of its connections, rather than one per
/// connection: an idle connection then costs a dictionary entry, not a
/// scheduled task, and closing many connections at once does not have to
/// take each one's task out of the loop's timer queue.
final class LivePingers: Sendable {
    let interval: TimeAmount
    private let loops = Mutex<[ObjectIdentifier: LoopPinger]>([:])

    init(interval: TimeAmount) {
        self.interval = interval
    }

    /// The pinger of `eventLoop`, made on first use.
    func pinger(for eventLoop: any EventLoop) -> LoopPinger {
        loops.withLock { loops in
            if let pinger = loops[ObjectIdentifier(eventLoop)] { return pinger }
            let pinger = LoopPinger(eventLoop: eventLoop, interval: interval)
            loops[ObjectIdentifier(eventLoop)] = pinger
            return pinger
        }
    }
}

/// The connections of one event loop, and its timer: used on that loop only.
final class LoopPinger: @unchecked Sendable {
    private let eventLoop: any EventLoop
    let interval: TimeAmount
    private var connections: [ObjectIdentifier: LiveConnectionHandler] = [:]
    /// Runs while there are connections, so that a stopped gateway leaves no timer behind.
    private var timer: RepeatedTask?

    fileprivate init(eventLoop: any EventLoop, interval: TimeAmount) {
        self.eventLoop = eventLoop
        self.interval = interval
    }

    func add(_ connection: LiveConnectionHandler) {
        eventLoop.preconditionInEventLoop()
        connections[ObjectIdentifier(connection)] = connection
        if timer == nil {
            timer = eventLoop.scheduleRepeatedTask(initialDelay: interval, delay: interval) { [self] _ in tick() }
        }
    }

    func remove(_ connection: LiveConnectionHandler) {
        eventLoop.preconditionInEventLoop()
        connections[ObjectIdentifier(connection)] = nil
        if connections.isEmpty {
            timer?.cancel()
            timer = nil
        }
    }

    private func tick() {
        // A copy: a connection closed by its tick leaves the dictionary meanwhile.
        for connection in Array(connections.values) { connection.pingTick() }
    }
}
