#if canImport(Glibc)
import Glibc
#endif

/// How a socket sink waits, retries and sizes its datagrams.
public struct SocketSinkOptions: Sendable, Equatable {
    /// The longest one line may wait for a peer that does not read (then it is dropped, counted
    /// `droppedSlow`, and later lines are dropped without waiting until the peer reads again).
    public var sendTimeoutSeconds: Double = 1
    /// At most one connection attempt per interval (measured on CLOCK_MONOTONIC; never slept).
    public var reconnectIntervalSeconds: Double = 1
    /// A TCP connection still not established after this long is abandoned and retried.
    public var connectTimeoutSeconds: Double = 5
    /// Largest datagram sent; a longer line is dropped and counted `droppedOversized`.
    /// Nil: the kernel's limit (unix datagram), 65,000 bytes (syslog over UDP).
    public var maxDatagramBytes: Int? = nil

    public init() {}
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC): timeouts and the reconnect schedule.
enum MonotonicClock {
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(max(0, ts.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, ts.tv_nsec))
    }
}

/// The addresses of a name, or why there are none.
enum Resolution {
    case addresses([SocketAddress])
    case failure(String)
}

/// One resolved destination: a sockaddr and its family.
struct SocketAddress {
    var family: Int32
    var storage = sockaddr_storage()
    var length: socklen_t = 0

    /// A unix socket path; nil when longer than `sun_path` holds.
    static func unix(_ path: String) -> SocketAddress? {
        var a = sockaddr_un()
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: a.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity, !bytes.contains(0) else { return nil }
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in bytes.enumerated() { dst[i] = b }
        }
        var r = SocketAddress(family: AF_UNIX)
        withUnsafeMutableBytes(of: &r.storage) { dst in
            withUnsafeBytes(of: &a) { src in dst.copyMemory(from: src) }
        }
        r.length = socklen_t(MemoryLayout<sockaddr_un>.size)
        return r
    }

    /// Every address of `host` (a name or an IPv4/IPv6 literal) for `port`, in getaddrinfo's order.
    static func resolve(host: String, port: UInt16, socketType: Int32) -> Resolution {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = socketType
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0 else { return .failure("cannot resolve \(host): \(String(cString: gai_strerror(rc)))") }
        defer { freeaddrinfo(list) }
        var out: [SocketAddress] = []
        var node = list
        while let n = node, out.count < 16 {
            let info = n.pointee
            if let addr = info.ai_addr, info.ai_addrlen > 0,
               Int(info.ai_addrlen) <= MemoryLayout<sockaddr_storage>.size,
               info.ai_family == AF_INET || info.ai_family == AF_INET6 {
                var r = SocketAddress(family: info.ai_family)
                withUnsafeMutableBytes(of: &r.storage) { dst in
                    dst.copyMemory(from: UnsafeRawBufferPointer(start: addr, count: Int(info.ai_addrlen)))
                }
                r.length = info.ai_addrlen
                out.append(r)
            }
            node = info.ai_next
        }
        guard !out.isEmpty else { return .failure("cannot resolve \(host): no IPv4 or IPv6 address") }
        return .addresses(out)
    }
}

/// A connected socket that comes back by itself: the shared engine of the unix and syslog sinks.
///
/// - Never blocks for long: the socket is non-blocking; a frame waits (poll) at most the send
///   timeout for a peer that does not read, after which the sender is *stalled*: later frames are
///   tried without waiting and dropped until the peer takes bytes again. A TCP connect in progress
///   is waited for the same way.
/// - Never raises SIGPIPE (MSG_NOSIGNAL).
/// - Reconnects: when the peer is absent or goes away, frames are dropped and counted, and a new
///   connection is tried at most once per reconnect interval (CLOCK_MONOTONIC), never sleeping.
/// - Streams keep their framing: a frame the peer took only part of keeps its unsent tail (one
///   frame at most), which goes out before anything else; a frame is never interleaved with another.
final class SocketSender {
    enum Destination {
        case unix(String)
        case inet(host: String, port: UInt16)
    }

    let destination: Destination
    let isStream: Bool
    let options: SocketSinkOptions
    private(set) var counters = SinkCounters()
    private(set) var lastError: String?
    /// Tests replace it to drive the reconnect schedule.
    var clock: () -> UInt64 = MonotonicClock.nanoseconds

    private var fd: Int32 = -1
    private var connecting = false
    private var connectStarted: UInt64 = 0
    private var lastAttempt: UInt64? = nil
    /// Connection attempts made; the connection of the first is not a reconnect.
    private var attempts = 0
    private var stalled = false
    /// The unsent tail of the frame being sent on a stream.
    private var remainder: [UInt8] = []
    private var addresses: [SocketAddress] = []
    private var addressIndex = 0

    var isConnected: Bool { fd >= 0 && !connecting }
    var destinationText: String {
        switch destination {
        case .unix(let path): return path
        case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }

    private var socketType: Int32 { isStream ? Int32(SOCK_STREAM.rawValue) : Int32(SOCK_DGRAM.rawValue) }

    init(destination: Destination, stream: Bool, options: SocketSinkOptions, clock: @escaping () -> UInt64 = MonotonicClock.nanoseconds) {
        self.destination = destination
        self.isStream = stream
        self.options = options
        self.clock = clock
        attemptConnect()
    }

    deinit { if fd >= 0 { _ = Glibc.close(fd) } }

    private static func nanos(_ seconds: Double) -> UInt64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        return UInt64(min(seconds, 86_400) * 1e9)
    }

    // MARK: sending

    /// Sends one frame (stream: the bytes of one message with its framing; datagram: one datagram).
    func send(_ frame: [UInt8]) {
        if !isStream, let max = options.maxDatagramBytes, frame.count > max {
            dropOversized()
            return
        }
        guard ready() else {
            counters.dropped += 1
            return
        }
        if !remainder.isEmpty {
            guard finishRemainder() else {
                if isConnected {
                    counters.dropped += 1
                    counters.droppedSlow += 1
                } else {
                    retryAfterLoss(frame)
                }
                return
            }
        }
        transmitFrame(frame, retry: true)
    }

    /// Sends the unsent tail of a stream frame (waiting up to the send timeout unless stalled).
    func flush() {
        guard isConnected, !remainder.isEmpty else { return }
        _ = finishRemainder()
    }

    func close() {
        flush()
        if !remainder.isEmpty {
            remainder = []
            counters.dropped += 1
            counters.droppedSlow += 1
        }
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        connecting = false
    }

    private func dropOversized() {
        counters.dropped += 1
        counters.droppedOversized += 1
    }

    private enum End { case complete, timedOut, failed(Int32) }

    private func transmitFrame(_ frame: [UInt8], retry: Bool) {
        let (sent, end) = frame.withUnsafeBytes { transmit($0) }
        switch end {
        case .complete:
            counters.written += 1
        case .timedOut:
            if isStream && sent > 0 {
                remainder = Array(frame[sent...])
            } else {
                counters.dropped += 1
                counters.droppedSlow += 1
            }
        case .failed(let e):
            if !isStream && e == EMSGSIZE {
                dropOversized()
                return
            }
            if !isStream && e == ENOBUFS {
                counters.dropped += 1
                counters.droppedSlow += 1
                return
            }
            counters.writeErrors += 1
            disconnect("send to \(destinationText): \(String(cString: strerror(e)))")
            if retry {
                retryAfterLoss(frame)
            } else {
                counters.dropped += 1
            }
        }
    }

    /// The connection was lost: when a new attempt is due, reconnect and send the frame once more
    /// (a restarted listener loses nothing); else the frame is dropped.
    private func retryAfterLoss(_ frame: [UInt8]) {
        if attemptDue() { attemptConnect() }
        if fd >= 0, (!connecting || finishConnect()) {
            transmitFrame(frame, retry: false)
        } else {
            counters.dropped += 1
        }
    }

    /// True when the remainder went out whole (its line then counts as written).
    private func finishRemainder() -> Bool {
        let (sent, end) = remainder.withUnsafeBytes { transmit($0) }
        switch end {
        case .complete:
            remainder = []
            counters.written += 1
            return true
        case .timedOut:
            if sent > 0 { remainder.removeFirst(sent) }
            return false
        case .failed(let e):
            counters.writeErrors += 1
            disconnect("send to \(destinationText): \(String(cString: strerror(e)))")
            return false
        }
    }

    /// Sends all of `bytes` (a stream) or one datagram, waiting for room at most the send timeout
    /// in all, and not at all when stalled.
    private func transmit(_ bytes: UnsafeRawBufferPointer) -> (Int, End) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return (0, .complete) }
        var offset = 0
        var deadline: UInt64? = nil
        while true {
            let n = Glibc.send(fd, base + offset, bytes.count - offset, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            if n >= 0 {
                if n > 0 { stalled = false }
                offset += n
                if !isStream || offset >= bytes.count { return (offset, .complete) }
                continue
            }
            let e = errno
            if e == EINTR { continue }
            guard e == EAGAIN || e == EWOULDBLOCK else { return (offset, .failed(e)) }
            if stalled { return (offset, .timedOut) }
            let now = MonotonicClock.nanoseconds()
            let end = deadline ?? now &+ SocketSender.nanos(options.sendTimeoutSeconds)
            deadline = end
            guard now < end else {
                stalled = true
                lastError = "\(destinationText) is not reading: lines are dropped until it does"
                return (offset, .timedOut)
            }
            waitWritable(milliseconds: Int32(min((end - now + 999_999) / 1_000_000, 60_000)))
        }
    }

    @discardableResult
    private func waitWritable(milliseconds: Int32) -> Int16 {
        var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        while true {
            let rc = poll(&p, 1, milliseconds)
            if rc < 0 && errno == EINTR { continue }
            return rc > 0 ? p.revents : 0
        }
    }

    // MARK: connecting

    /// True when a connection is up (connecting one if it is due, checking one in progress, and
    /// noticing a stream peer that closed).
    private func ready() -> Bool {
        if fd >= 0 && connecting { return finishConnect() }
        if fd >= 0 {
            if !isStream || !peerClosed() { return true }
        }
        guard attemptDue() else { return false }
        attemptConnect()
        guard fd >= 0 else { return false }
        return connecting ? finishConnect() : true
    }

    private func attemptDue() -> Bool {
        guard let last = lastAttempt else { return true }
        return clock() &- last >= SocketSender.nanos(options.reconnectIntervalSeconds)
    }

    /// A stream peer that closed its end (a collector never sends: a read of 0 is its FIN), or
    /// reset it. Anything it did send is read and ignored, a bounded amount per call.
    private func peerClosed() -> Bool {
        var scratch = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        for _ in 0..<16 {
            let n = withUnsafeMutableBytes(of: &scratch) { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { continue }
            if n == 0 {
                disconnect("\(destinationText) closed the connection")
                return true
            }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return false }
            counters.writeErrors += 1
            disconnect("connection to \(destinationText): \(String(cString: strerror(e)))")
            return true
        }
        return false
    }

    private func disconnect(_ reason: String) {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        connecting = false
        lastError = reason
        if !remainder.isEmpty {
            remainder = []
            counters.dropped += 1
        }
    }

    private func connectFailed(_ reason: String) {
        if fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        connecting = false
        counters.connectFailures += 1
        lastError = reason
    }

    private func connected() {
        connecting = false
        if attempts > 1 { counters.reconnects += 1 }
        lastError = nil
    }

    /// One connection attempt: resolves again (a name may have moved) whenever the list of
    /// addresses has been gone through, then tries the next address.
    private func attemptConnect() {
        lastAttempt = clock()
        attempts += 1
        if fd >= 0 { _ = Glibc.close(fd); fd = -1 }
        connecting = false
        let address: SocketAddress
        switch destination {
        case .unix(let path):
            guard let a = SocketAddress.unix(path) else {
                connectFailed("unix socket path too long: \(path)")
                return
            }
            address = a
        case .inet(let host, let port):
            if addressIndex >= addresses.count {
                addressIndex = 0
                switch SocketAddress.resolve(host: host, port: port, socketType: socketType) {
                case .addresses(let list): addresses = list
                case .failure(let why):
                    addresses = []
                    connectFailed(why)
                    return
                }
            }
            address = addresses[addressIndex]
            addressIndex += 1
        }
        let s = socket(address.family, socketType | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else {
            connectFailed("socket for \(destinationText): \(String(cString: strerror(errno)))")
            return
        }
        fd = s
        var storage = address.storage
        let rc = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, address.length) }
        }
        if rc == 0 {
            connected()
            return
        }
        let e = errno
        if e == EINPROGRESS || e == EINTR {
            connecting = true
            connectStarted = MonotonicClock.nanoseconds()
            return
        }
        connectFailed("connect to \(destinationText): \(String(cString: strerror(e)))")
    }

    /// A TCP connect in progress: waits for it at most the send timeout (not at all when stalled),
    /// gives up after the connect timeout. True once connected.
    private func finishConnect() -> Bool {
        let waitMs: Int32 = stalled ? 0 : Int32(min(SocketSender.nanos(options.sendTimeoutSeconds) / 1_000_000, 60_000))
        let revents = waitWritable(milliseconds: waitMs)
        if revents == 0 {
            stalled = true
            if MonotonicClock.nanoseconds() &- connectStarted >= SocketSender.nanos(options.connectTimeoutSeconds) {
                connectFailed("connect to \(destinationText): timed out")
            }
            return false
        }
        var err: Int32 = 0
        var len = socklen_t(MemoryLayout<Int32>.size)
        if getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 { err = errno }
        guard err == 0 else {
            connectFailed("connect to \(destinationText): \(String(cString: strerror(err)))")
            return false
        }
        stalled = false
        connected()
        return true
    }
}
