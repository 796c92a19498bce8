// pulsegate-wsref-nio: the live benchmark's second reference, the least a WebSocket
// broadcaster built on SwiftNIO can do: the C reference's work (answer any upgrade
// with a 101; at --rate, one samples frame of --series series to every client; read
// and drop what clients send) on NIO channels, with the structure Pulsegate's hub
// has and nothing else on the path: one event loop per core, the frame built once
// and handed to each loop, each client's `writeAndFlush` of the same buffer on its
// own loop, a client that is not writable losing the frame. No store, no pipeline,
// no frame parsing, no pings, no compression. Pulsegate against this measures what
// Pulsegate adds to NIO; this against the C reference, what NIO's channel write
// path costs.
//
//   pulsegate-wsref-nio --port P [--rate R] [--series S]
//
// Prints `listening PORT` once ready; runs until SIGTERM.
import Foundation
import NIOCore
import NIOPosix

/// The upgraded clients of one event loop; touched only on that loop.
final class LoopClients: @unchecked Sendable {
    var contexts: [ObjectIdentifier: ChannelHandlerContext] = [:]
}

final class ReferenceHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let response = ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
    static let headLimit = 4096

    private let clients: LoopClients
    private var head: [UInt8] = []
    private var upgraded = false

    init(clients: LoopClients) {
        self.clients = clients
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        // After the upgrade, what a client sends (pongs, its close) is read and dropped.
        guard !upgraded else { return }
        head.append(contentsOf: unwrapInboundIn(data).readableBytesView.prefix(Self.headLimit - head.count))
        if head.count >= 4, head.withUnsafeBytes({ bytes in
            (0...(bytes.count - 4)).contains { bytes[$0] == 13 && bytes[$0 + 1] == 10 && bytes[$0 + 2] == 13 && bytes[$0 + 3] == 10 }
        }) {
            upgraded = true
            head = []
            context.writeAndFlush(wrapOutboundOut(Self.response), promise: nil)
            clients.contexts[ObjectIdentifier(self)] = context
        } else if head.count == Self.headLimit {
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        clients.contexts[ObjectIdentifier(self)] = nil
    }
}

/// The frame the C reference writes, for the same seq and series.
func samplesFrame(seq: Int, series: Int) -> ByteBuffer {
    let now = Date().timeIntervalSince1970 * 1000
    let milliseconds = Int64(now)
    var text = "{\"type\":\"samples\",\"seq\":\(seq),\"server_ts\":\(String(format: "%.3f", now)),\"samples\":["
    for index in 0..<series {
        let value = Double(seq % 1000) / 7 + Double(index)
        text += "\(index == 0 ? "" : ","){\"metric\":\"synthetic_value\",\"labels\":{\"series\":\"\(index)\"},\"ts\":\(milliseconds),\"value\":\(String(format: "%.6f", value))}"
    }
    text += "]}"
    let payload = Array(text.utf8)
    var frame = ByteBuffer()
    frame.writeInteger(UInt8(0x81))
    if payload.count < 126 {
        frame.writeInteger(UInt8(payload.count))
    } else {
        frame.writeInteger(UInt8(126))
        frame.writeInteger(UInt16(payload.count))
    }
    frame.writeBytes(payload)
    return frame
}

struct Options {
    var port = 0
    var rate = 10.0
    var series = 10

    static func parse() -> Options {
        var options = Options()
        var arguments = CommandLine.arguments.dropFirst().makeIterator()
        while let argument = arguments.next() {
            let value = arguments.next() ?? ""
            switch argument {
            case "--port": options.port = Int(value) ?? 0
            case "--rate": options.rate = Double(value) ?? options.rate
            case "--series": options.series = Int(value) ?? options.series
            default:
                FileHandle.standardError.write(Data("pulsegate-wsref-nio: unknown argument \(argument)\n".utf8))
                exit(64)
            }
        }
        return options
    }
}

let options = Options.parse()
// Started by a process that blocks signals in its threads, a child inherits the mask:
// SIGTERM must end this one.
var none = sigset_t()
sigemptyset(&none)
sigprocmask(SIG_SETMASK, &none, nil)
signal(SIGTERM, SIG_DFL)
var limit = rlimit()
getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
limit.rlim_cur = limit.rlim_max
setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)
let loops = group.makeIterator().map { $0 }
let clientsByLoop = Dictionary(uniqueKeysWithValues: loops.map { (ObjectIdentifier($0), LoopClients()) })
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ReferenceHandler(clients: clientsByLoop[ObjectIdentifier(channel.eventLoop)]!))
        }
    }
    .bind(host: "127.0.0.1", port: options.port).wait()
FileHandle.standardOutput.write(Data("listening \(channel.localAddress?.port ?? 0)\n".utf8))

/// The stream's last seq; touched only on the first loop, where the timer runs.
final class Sequence: @unchecked Sendable {
    var last = 0
}
let sequence = Sequence()
let series = options.series
loops[0].scheduleRepeatedTask(initialDelay: .zero, delay: .nanoseconds(Int64(1e9 / options.rate))) { _ in
    sequence.last += 1
    let frame = samplesFrame(seq: sequence.last, series: series)
    for loop in loops {
        let clients = clientsByLoop[ObjectIdentifier(loop)]!
        loop.execute {
            for context in clients.contexts.values where context.channel.isWritable {
                context.writeAndFlush(NIOAny(frame), promise: nil)
            }
        }
    }
}
try channel.closeFuture.wait()
