#if canImport(Glibc)
import Glibc
#endif
import SonarCore

public enum SyslogTransport: String, Sendable, Equatable {
    /// One message per datagram.
    case udp
    /// Octet-counted framing (RFC 6587 §3.4.1): `MSG-LEN SP SYSLOG-MSG`.
    case tcp
}

/// RFC 5424 facilities (the PRI is facility × 8 + severity).
public enum SyslogFacility: Int, Sendable, Equatable {
    case kern = 0, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp
    case local0 = 16, local1, local2, local3, local4, local5, local6, local7
}

/// RFC 5424 severities.
public enum SyslogSeverity: Int, Sendable, Equatable {
    case emergency = 0, alert, critical, error, warning, notice, informational, debug

    /// The severity of an event: an `alert` event by its `alert.severity` (1 high → critical,
    /// 2 medium → error, 3 low → warning; anything else → warning); every other event informational.
    public static func of(type: String, line: [UInt8]) -> SyslogSeverity {
        guard type == "alert" else { return .informational }
        switch SyslogLine.alertSeverity(line) {
        case 1?: return .critical
        case 2?: return .error
        default: return .warning
        }
    }
}

/// Cheap look-ups in an encoded event line, without parsing it. They rely on how `JSONWriter`
/// writes: keys in a fixed order, and every `"` inside a string escaped, so `"key":` in the bytes
/// is always a key, never text from the wire.
enum SyslogLine {
    private static let eventTypeKey = Array(#""event_type":""#.utf8)
    private static let alertKey = Array(#""alert":{"#.utf8)
    private static let severityKey = Array(#""severity":"#.utf8)

    /// The `event_type` (the header's, the first in the line).
    static func eventType(_ line: [UInt8]) -> String? {
        guard let start = find(eventTypeKey, in: line, from: 0) else { return nil }
        var i = start
        while i < line.count, i - start < 64, line[i] != UInt8(ascii: "\"") { i += 1 }
        guard i < line.count, line[i] == UInt8(ascii: "\"") else { return nil }
        return String(decoding: line[start..<i], as: UTF8.self)
    }

    /// `alert.severity`: the `alert` object comes first after the header and holds only scalars.
    static func alertSeverity(_ line: [UInt8]) -> Int? {
        guard let alert = find(alertKey, in: line, from: 0) else { return nil }
        var i = alert
        // The end of the alert object: its first `}` outside a string.
        var inString = false, escaped = false, end = line.count
        while i < line.count {
            let b = line[i]
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
            } else if b == UInt8(ascii: "\"") {
                inString = true
            } else if b == UInt8(ascii: "}") {
                end = i
                break
            }
            i += 1
        }
        guard let v = find(severityKey, in: line, from: alert), v < end else { return nil }
        var value = 0, digits = 0, j = v
        while j < end, digits < 3, line[j] >= UInt8(ascii: "0"), line[j] <= UInt8(ascii: "9") {
            value = value * 10 + Int(line[j] - UInt8(ascii: "0"))
            digits += 1
            j += 1
        }
        return digits > 0 ? value : nil
    }

    /// Index just past the first occurrence of `pattern` at or after `from`.
    static func find(_ pattern: [UInt8], in line: [UInt8], from: Int) -> Int? {
        guard let first = pattern.first, line.count >= pattern.count else { return nil }
        var i = from
        let last = line.count - pattern.count
        while i <= last {
            if line[i] == first {
                var k = 1
                while k < pattern.count, line[i + k] == pattern[k] { k += 1 }
                if k == pattern.count { return i + pattern.count }
            }
            i += 1
        }
        return nil
    }
}

/// Events to a syslog collector in RFC 5424 format (`-o syslog://HOST:PORT`,
/// `syslog+tcp://HOST:PORT`):
///
///     <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG
///
/// - PRI: facility (local0 unless told) × 8 + severity (`SyslogSeverity.of`).
/// - TIMESTAMP: when the line was written, RFC 3339 in UTC with microseconds
///   (`2026-11-24T15:47:09.123456Z`); the event's own packet time is in the JSON.
/// - HOSTNAME: gethostname(); APP-NAME `mcpsonar`; PROCID the process id; MSGID the `event_type`.
/// - No STRUCTURED-DATA (`-`). MSG is the JSON line itself, UTF-8, without a BOM (collectors
///   and SIEM parsers then read the JSON as is).
/// - UDP: one message per datagram; a message longer than 65,000 bytes (`maxDatagramBytes`) is
///   dropped and counted `droppedOversized`, never truncated (a cut JSON line is no event).
/// - TCP: octet-counted framing, `MSG-LEN SP SYSLOG-MSG`, no trailer; reconnects like the unix
///   stream sink. The host may be a name or an IPv4/IPv6 literal; it is resolved at open and again
///   on reconnect.
public final class SyslogSink: EventSink {
    public let host: String
    public let port: UInt16
    public let transport: SyslogTransport
    public let facility: SyslogFacility
    let sender: SocketSender
    /// `HOSTNAME APP-NAME PROCID ` after the timestamp, already checked.
    private let headerMiddle: [UInt8]
    /// Tests replace it for exact bytes.
    var clock: () -> Timestamp = SyslogSink.realtimeNow

    public static let defaultMaxDatagramBytes = 65_000

    /// Fails only for an empty host or port 0. An absent collector is not a failure: messages are
    /// dropped and counted until it is there.
    public init(host: String, port: UInt16 = 514, transport: SyslogTransport, facility: SyslogFacility = .local0,
                appName: String = "mcpsonar", hostname: String? = nil,
                options: SocketSinkOptions = SocketSinkOptions()) throws(SinkError) {
        guard !host.isEmpty else { throw .invalidSpec(host, "no collector host") }
        guard port > 0 else { throw .invalidSpec(host, "port 0") }
        self.host = host
        self.port = port
        self.transport = transport
        self.facility = facility
        var opts = options
        if transport == .udp && opts.maxDatagramBytes == nil { opts.maxDatagramBytes = SyslogSink.defaultMaxDatagramBytes }
        var middle: [UInt8] = []
        middle += SyslogSink.headerField(hostname ?? SyslogSink.systemHostname(), max: 255)
        middle.append(0x20)
        middle += SyslogSink.headerField(appName, max: 48)
        middle.append(0x20)
        middle += Array(String(getpid()).utf8)
        middle.append(0x20)
        headerMiddle = middle
        sender = SocketSender(destination: .inet(host: host, port: port), stream: transport == .tcp, options: opts)
    }

    public func write(line: [UInt8]) {
        write(line: line, type: SyslogLine.eventType(line) ?? "-")
    }

    public func write(line: [UInt8], type: String) {
        let message = self.message(line: line, type: type, time: clock())
        switch transport {
        case .udp:
            sender.send(message)
        case .tcp:
            var frame = Array(String(message.count).utf8)
            frame.reserveCapacity(frame.count + 1 + message.count)
            frame.append(0x20)
            frame += message
            sender.send(frame)
        }
    }

    /// One RFC 5424 message (without TCP framing).
    func message(line: [UInt8], type: String, time: Timestamp) -> [UInt8] {
        let severity = SyslogSeverity.of(type: type, line: line)
        var m: [UInt8] = []
        m.reserveCapacity(line.count + 128)
        m += Array("<\(facility.rawValue * 8 + severity.rawValue)>1 ".utf8)
        m += Array(SyslogSink.rfc3339(time).utf8)
        m.append(0x20)
        m += headerMiddle
        m += SyslogSink.headerField(type, max: 32)
        m += Array(" - ".utf8)
        m += line
        return m
    }

    public func flush() { sender.flush() }
    public func close() { sender.close() }
    public var counters: SinkCounters { sender.counters }
    public var lastError: String? { sender.lastError }

    /// `2026-11-24T15:47:09.123456Z`.
    static func rfc3339(_ t: Timestamp) -> String {
        let s = t.iso8601
        return s.hasSuffix("+0000") ? String(s.dropLast(5)) + "Z" : s
    }

    /// A header field: printable US-ASCII only (others become `_`), at most `max` bytes, `-` when empty.
    static func headerField(_ s: String, max: Int) -> [UInt8] {
        var out: [UInt8] = []
        for b in s.utf8.prefix(max) { out.append(b >= 33 && b <= 126 ? b : UInt8(ascii: "_")) }
        return out.isEmpty ? [UInt8(ascii: "-")] : out
    }

    static func systemHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "-" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func realtimeNow() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Int64(ts.tv_sec), microseconds: Int64(ts.tv_nsec / 1000))
    }
}
