#if canImport(Glibc)
import Glibc
#endif

public enum UnixSocketKind: String, Sendable, Equatable {
    /// SOCK_STREAM: each line followed by `\n`.
    case stream
    /// SOCK_DGRAM: one line per datagram, no newline.
    case datagram
}

/// Lines to a unix domain socket another program listens on (`-o unix:PATH`, `-o unixgram:PATH`).
/// Opening never fails for want of a listener: lines are dropped and counted until one is there,
/// and the sink reconnects by itself (see `SocketSender`).
public final class UnixSocketSink: EventSink {
    public let path: String
    public let kind: UnixSocketKind
    let sender: SocketSender

    /// Fails only for a path that no unix socket can have (empty, or longer than 107 bytes).
    public init(path: String, kind: UnixSocketKind, options: SocketSinkOptions = SocketSinkOptions()) throws(SinkError) {
        guard SocketAddress.unix(path) != nil else {
            throw .invalidSpec(path, "a unix socket path must be 1 to 107 bytes")
        }
        self.path = path
        self.kind = kind
        sender = SocketSender(destination: .unix(path), stream: kind == .stream, options: options)
    }

    public func write(line: [UInt8]) {
        switch kind {
        case .datagram:
            sender.send(line)
        case .stream:
            var frame = line
            frame.append(0x0A)
            sender.send(frame)
        }
    }

    public func flush() { sender.flush() }
    public func close() { sender.close() }
    public var counters: SinkCounters { sender.counters }
    public var lastError: String? { sender.lastError }
}
