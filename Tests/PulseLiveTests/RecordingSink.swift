import Foundation
import NIOCore
import NIOPosix
import PulseLive
import Synchronization

/// A live sink on a real event loop that keeps what the hub writes, and can
/// pretend its connection's buffer is full.
final class RecordingSink: LiveSink {
    let eventLoop: any EventLoop
    private struct State {
        var frames: [ByteBuffer] = []
        var flushes = 0
        var closedWith: LiveCloseReason?
        var writable = true
    }
    private let state = Mutex(State())

    init(eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()) {
        self.eventLoop = eventLoop
    }

    let wireFormat = LiveWireFormat.plain
    var isWritable: Bool { state.withLock { $0.writable } }
    func write(_ frame: ByteBuffer) { state.withLock { $0.frames.append(frame) } }
    func flush() { state.withLock { $0.flushes += 1 } }
    func close(_ reason: LiveCloseReason) { state.withLock { $0.closedWith = reason } }

    func setWritable(_ writable: Bool) { state.withLock { $0.writable = writable } }
    var closedWith: LiveCloseReason? { state.withLock { $0.closedWith } }
    var buffers: [ByteBuffer] { state.withLock { $0.frames } }
    var flushes: Int { state.withLock { $0.flushes } }

    /// Waits until the event loop has run what the hub scheduled so far. A
    /// drain may be due up to the default flush interval (4 ms) ahead: after
    /// 10 ms it is due, and the loop tick that runs our first task runs every
    /// due task too, but may run ours first (it alternates immediate and timed
    /// tasks); a second task, submitted once the first has run, comes after it.
    func settle() async {
        try? await Task.sleep(for: .milliseconds(10))
        try? await eventLoop.submit {}.get()
        try? await eventLoop.submit {}.get()
    }

    /// The frames written since the last call, parsed.
    func take() async -> [[String: Any]] {
        await settle()
        let frames = state.withLock { state -> [ByteBuffer] in
            defer { state.frames.removeAll() }
            return state.frames
        }
        return frames.map { try! JSONSerialization.jsonObject(with: Data($0.readableBytesView)) as! [String: Any] }
    }
}
