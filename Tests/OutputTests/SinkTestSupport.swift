#if canImport(Glibc)
import Glibc
#endif
@testable import SonarOutput

/// Real listeners for the sink tests: unix stream and datagram sockets in a temporary directory,
/// TCP and UDP sockets on 127.0.0.1 ephemeral ports. Everything read waits with poll, bounded.
enum Net {
    static let stream = Int32(SOCK_STREAM.rawValue)
    static let datagram = Int32(SOCK_DGRAM.rawValue)

    /// A fresh directory under /tmp (short paths: sun_path holds 107 bytes).
    static func tempDir() -> String {
        var template = Array("/tmp/sinkXXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buf -> Bool in
            guard let base = buf.baseAddress else { return false }
            return mkdtemp(base) != nil
        }
        let path = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return made ? path : "/tmp"
    }

    static func removeTree(_ dir: String) {
        guard dir != "/tmp", let d = opendir(dir) else { return }
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { unlink(dir + "/" + name) }
        }
        closedir(d)
        rmdir(dir)
    }

    /// A unix socket bound at `path` (listening, for a stream); -1 on failure.
    static func unixBound(_ path: String, type: Int32) -> Int32 {
        guard var a = SocketAddress.unix(path) else { return -1 }
        let fd = socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return -1 }
        let rc = withUnsafePointer(to: &a.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, a.length) }
        }
        guard rc == 0, type != stream || listen(fd, 8) == 0 else { close(fd); return -1 }
        return fd
    }

    /// A socket bound on 127.0.0.1 (`port` 0: an ephemeral one), listening for TCP; and its port.
    static func loopbackBound(type: Int32, port: UInt16 = 0) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, type | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (-1, 0) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0, type != stream || listen(fd, 8) == 0 else { close(fd); return (-1, 0) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: a.sin_port))
    }

    /// A TCP socket listening on [::1], ephemeral port; (-1, 0) when the host has no IPv6 loopback.
    static func loopback6Listener() -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET6, stream | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return (-1, 0) }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_addr = in6addr_loopback
        let rc = withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) }
        }
        guard rc == 0, listen(fd, 8) == 0 else { close(fd); return (-1, 0) }
        var len = socklen_t(MemoryLayout<sockaddr_in6>.size)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return (fd, UInt16(bigEndian: a.sin6_port))
    }

    static let hasIPv6Loopback: Bool = {
        let l = loopback6Listener()
        if l.fd >= 0 { close(l.fd) }
        return l.fd >= 0
    }()

    static func waitReadable(_ fd: Int32, ms: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, ms) > 0
    }

    /// Accepts one connection, waiting at most `ms`.
    static func accept(_ listener: Int32, ms: Int32 = 2000) -> Int32 {
        guard waitReadable(listener, ms: ms) else { return -1 }
        return Glibc.accept(listener, nil, nil)
    }

    /// Reads a stream until end of file, or until nothing came for `idleMs`.
    static func readStream(_ fd: Int32, idleMs: Int32 = 1000) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while waitReadable(fd, ms: idleMs) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// Reads exactly `count` bytes of a stream, or what came within `ms`.
    static func readStream(_ fd: Int32, count: Int, ms: Int32 = 2000) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while out.count < count, waitReadable(fd, ms: ms) {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, min($0.count, count - out.count), 0) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        return out
    }

    /// One datagram, waiting at most `ms`; nil when none came.
    static func datagram(_ fd: Int32, ms: Int32 = 2000) -> [UInt8]? {
        guard waitReadable(fd, ms: ms) else { return nil }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n >= 0 ? Array(buffer[0..<n]) : nil
    }

    /// Every datagram already queued.
    static func queuedDatagrams(_ fd: Int32) -> [[UInt8]] {
        var out: [[UInt8]] = []
        while let d = datagram(fd, ms: 0) { out.append(d) }
        return out
    }
}

/// A clock the test moves by hand, for the reconnect schedule.
final class ManualClock {
    var now: UInt64 = MonotonicClock.nanoseconds()
    func advance(seconds: Double) { now += UInt64(seconds * 1e9) }
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }
func text(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

func seconds(since start: UInt64) -> Double { Double(MonotonicClock.nanoseconds() - start) / 1e9 }
