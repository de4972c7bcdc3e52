#if canImport(Glibc)
import Glibc
#endif

/// Where one `-o` argument sends events:
///
/// | argument | sink |
/// |---|---|
/// | `-` | standard output |
/// | `unix:PATH` | unix stream socket, one line + `\n` each |
/// | `unixgram:PATH` | unix datagram socket, one line per datagram |
/// | `syslog://HOST[:PORT]`, `syslog+udp://HOST[:PORT]` | RFC 5424 syslog over UDP (port 514) |
/// | `syslog+tcp://HOST[:PORT]` | RFC 5424 syslog over TCP, octet-counted (port 514) |
/// | anything else | a file, appended to |
///
/// HOST is a name, an IPv4 address or an IPv6 address in brackets (`syslog+tcp://[::1]:6514`).
public enum SinkSpec: Sendable, Equatable {
    case standardOutput
    case file(path: String)
    case unix(path: String, kind: UnixSocketKind)
    case syslog(host: String, port: UInt16, transport: SyslogTransport)

    public static func parse(_ text: String) throws(SinkError) -> SinkSpec {
        guard !text.isEmpty else { throw .invalidSpec(text, "empty") }
        if text == "-" { return .standardOutput }
        if text.hasPrefix("unixgram:") { return try unixPath(text, prefix: "unixgram:", kind: .datagram) }
        if text.hasPrefix("unix:") { return try unixPath(text, prefix: "unix:", kind: .stream) }
        if let sep = text.range(of: "://") {
            let scheme = text[..<sep.lowerBound].lowercased()
            let transport: SyslogTransport
            switch scheme {
            case "syslog", "syslog+udp": transport = .udp
            case "syslog+tcp": transport = .tcp
            default:
                if scheme.hasPrefix("syslog") {
                    throw .invalidSpec(text, "unknown syslog transport '\(scheme)': use syslog://, syslog+udp:// or syslog+tcp://")
                }
                return .file(path: text)
            }
            let (host, port) = try authority(String(text[sep.upperBound...]), spec: text)
            return .syslog(host: host, port: port, transport: transport)
        }
        if text.hasPrefix("syslog:") || text.hasPrefix("syslog+") {
            throw .invalidSpec(text, "a syslog collector is written syslog://HOST:PORT, syslog+udp://HOST:PORT or syslog+tcp://HOST:PORT")
        }
        return .file(path: text)
    }

    /// Opens the sink. Only a file that cannot be opened fails; a socket or collector that is not
    /// there yet is retried by the sink itself.
    public func open(options: SocketSinkOptions = SocketSinkOptions()) throws(SinkError) -> any EventSink {
        switch self {
        case .standardOutput: return FileSink()
        case .file(let path): return try FileSink(path: path)
        case .unix(let path, let kind): return try UnixSocketSink(path: path, kind: kind, options: options)
        case .syslog(let host, let port, let transport):
            return try SyslogSink(host: host, port: port, transport: transport, options: options)
        }
    }

    /// A short name for the sink's counters in `stats` (`SinkCounters.record(into:name:)`).
    public var label: String {
        switch self {
        case .standardOutput: return "stdout"
        case .file: return "file"
        case .unix(_, .stream): return "unix"
        case .unix(_, .datagram): return "unixgram"
        case .syslog(_, _, .udp): return "syslog_udp"
        case .syslog(_, _, .tcp): return "syslog_tcp"
        }
    }

    private static func unixPath(_ text: String, prefix: String, kind: UnixSocketKind) throws(SinkError) -> SinkSpec {
        let path = String(text.dropFirst(prefix.count))
        guard !path.isEmpty else { throw .invalidSpec(text, "no socket path after '\(prefix)'") }
        guard SocketAddress.unix(path) != nil else {
            throw .invalidSpec(text, "a unix socket path must be at most 107 bytes")
        }
        return .unix(path: path, kind: kind)
    }

    /// `HOST`, `HOST:PORT`, `[V6]`, `[V6]:PORT`.
    private static func authority(_ text: String, spec: String) throws(SinkError) -> (String, UInt16) {
        guard !text.isEmpty else { throw .invalidSpec(spec, "no collector host") }
        if text.contains("/") || text.contains("?") || text.contains("#") || text.contains("@") {
            throw .invalidSpec(spec, "expected HOST or HOST:PORT after '://', nothing more")
        }
        var host: String
        var portText: Substring? = nil
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .invalidSpec(spec, "missing ']' after the IPv6 address") }
            host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .invalidSpec(spec, "expected ':PORT' after ']'") }
                portText = rest.dropFirst()
            }
            let address = host.split(separator: "%", maxSplits: 1).first.map(String.init) ?? ""
            var v6 = in6_addr()
            guard inet_pton(AF_INET6, address, &v6) == 1 else {
                throw .invalidSpec(spec, "'\(host)' is not an IPv6 address")
            }
        } else {
            let colons = text.filter { $0 == ":" }.count
            if colons > 1 { throw .invalidSpec(spec, "an IPv6 address goes in brackets: [\(text)]:514") }
            if colons == 1, let colon = text.firstIndex(of: ":") {
                host = String(text[..<colon])
                portText = text[text.index(after: colon)...]
            } else {
                host = text
            }
            guard !host.isEmpty else { throw .invalidSpec(spec, "no collector host") }
            let allowed = host.utf8.allSatisfy { b in
                (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
                    || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: ".") || b == UInt8(ascii: "-")
                    || b == UInt8(ascii: "_")
            }
            guard allowed, host.utf8.count <= 253 else { throw .invalidSpec(spec, "'\(host)' is not a host name or address") }
        }
        guard let portText else { return (host, 514) }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = Int(portText), port >= 1, port <= 65_535 else {
            throw .invalidSpec(spec, "port must be a number from 1 to 65535, not '\(portText)'")
        }
        return (host, UInt16(port))
    }
}
