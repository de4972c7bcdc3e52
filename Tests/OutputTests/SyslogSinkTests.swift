#if canImport(Glibc)
import Glibc
#endif
import Testing
import SonarCore
@testable import SonarOutput

// MARK: syslog

private let alertLine = bytes(#"{"timestamp":"2026-11-24T15:47:09.123456+0000","flow_id":7,"event_type":"alert","src_ip":"10.0.0.1","src_port":5000,"dest_ip":"10.0.0.2","dest_port":8080,"proto":"TCP","alert":{"action":"allowed","signature_id":1001,"rule":"x","signature":"a \"severity\":3 } trick","category":"secret","severity":1},"mcp":{"message":{"severity":3}}}"#)
private let mcpLine = bytes(#"{"timestamp":"2026-11-24T15:47:09.123456+0000","flow_id":7,"event_type":"mcp","mcp":{"kind":"request"}}"#)
/// 2026-11-24T15:47:10.000042Z
private let writeTime = Timestamp(seconds: 1_795_535_230, microseconds: 42)

@Test func syslogSeverityComesFromTheAlertObjectOnly() {
    #expect(SyslogLine.alertSeverity(alertLine) == 1)
    #expect(SyslogSeverity.of(type: "alert", line: alertLine) == .critical)
    #expect(SyslogSeverity.of(type: "alert", line: bytes(#"{"alert":{"severity":2}}"#)) == .error)
    #expect(SyslogSeverity.of(type: "alert", line: bytes(#"{"alert":{"severity":3}}"#)) == .warning)
    #expect(SyslogSeverity.of(type: "alert", line: bytes(#"{"alert":{"rule":"r"},"mcp":{"severity":1}}"#)) == .warning)
    #expect(SyslogSeverity.of(type: "mcp", line: mcpLine) == .informational)
    #expect(SyslogLine.eventType(alertLine) == "alert")
    #expect(SyslogLine.eventType(bytes(#"{"a":1}"#)) == nil)
}

@Test func syslogOverUDPSendsExactRFC5424Messages() throws {
    let collector = Net.loopbackBound(type: Net.datagram)
    #expect(collector.fd >= 0)
    defer { close(collector.fd) }
    let sink = try SyslogSink(host: "127.0.0.1", port: collector.port, transport: .udp, hostname: "sensor-1")
    sink.clock = { writeTime }
    let pid = getpid()
    sink.write(line: alertLine, type: "alert")
    sink.write(line: mcpLine)   // type read from the line
    #expect(Net.datagram(collector.fd).map(text) == "<130>1 2026-11-24T15:47:10.000042Z sensor-1 mcpsonar \(pid) alert - " + text(alertLine))
    #expect(Net.datagram(collector.fd).map(text) == "<134>1 2026-11-24T15:47:10.000042Z sensor-1 mcpsonar \(pid) mcp - " + text(mcpLine))
    var expected = SinkCounters()
    expected.written = 2
    #expect(sink.counters == expected)
}

@Test func syslogOverUDPDropsAndCountsOversizedMessages() throws {
    let collector = Net.loopbackBound(type: Net.datagram)
    defer { close(collector.fd) }
    let sink = try SyslogSink(host: "127.0.0.1", port: collector.port, transport: .udp, facility: .daemon, hostname: "h")
    sink.clock = { writeTime }
    let header = "<30>1 2026-11-24T15:47:10.000042Z h mcpsonar \(getpid()) stats - "
    let fits = [UInt8](repeating: UInt8(ascii: "a"), count: 65_000 - header.utf8.count)
    sink.write(line: fits + [UInt8(ascii: "a")], type: "stats")   // 65,001 bytes: dropped
    sink.write(line: fits, type: "stats")                          // exactly 65,000: sent
    #expect(Net.datagram(collector.fd) == bytes(header) + fits)
    #expect(Net.queuedDatagrams(collector.fd).isEmpty)
    var expected = SinkCounters()
    expected.written = 1
    expected.dropped = 1
    expected.droppedOversized = 1
    #expect(sink.counters == expected)
}

@Test func syslogOverTCPIsOctetCountedAndReconnects() throws {
    var collector = Net.loopbackBound(type: Net.stream)
    #expect(collector.fd >= 0)
    let port = collector.port
    let sink = try SinkSpec.parse("syslog+tcp://127.0.0.1:\(port)").open() as? SyslogSink
    guard let sink else { Issue.record("not a syslog sink"); return }
    sink.clock = { writeTime }
    let clock = ManualClock()
    sink.sender.clock = { clock.now }
    let host = SyslogSink.systemHostname()
    let pid = getpid()
    var conn = Net.accept(collector.fd)
    sink.write(line: mcpLine, type: "mcp")
    sink.write(line: alertLine, type: "alert")
    let m1 = "<134>1 2026-11-24T15:47:10.000042Z \(host) mcpsonar \(pid) mcp - " + text(mcpLine)
    let m2 = "<130>1 2026-11-24T15:47:10.000042Z \(host) mcpsonar \(pid) alert - " + text(alertLine)
    let framed = "\(m1.utf8.count) \(m1)\(m2.utf8.count) \(m2)"
    #expect(text(Net.readStream(conn, count: framed.utf8.count)) == framed)

    // The collector stops: what is written meanwhile is dropped and counted.
    close(conn)
    close(collector.fd)
    usleep(50_000)   // let our side see the FIN
    sink.write(line: mcpLine, type: "mcp")
    sink.write(line: mcpLine, type: "mcp")
    #expect(sink.counters.dropped == 2)

    // It comes back on the same port: after the reconnect interval, lines arrive again.
    collector = Net.loopbackBound(type: Net.stream, port: port)
    #expect(collector.fd >= 0)
    defer { close(collector.fd) }
    clock.advance(seconds: 1)
    sink.write(line: mcpLine, type: "mcp")
    conn = Net.accept(collector.fd)
    defer { close(conn) }
    sink.close()
    #expect(text(Net.readStream(conn)) == "\(m1.utf8.count) \(m1)")
    var expected = SinkCounters()
    expected.written = 3
    expected.dropped = 2
    expected.reconnects = 1
    #expect(sink.counters == expected)
}

@Test(.enabled(if: Net.hasIPv6Loopback)) func syslogOverTCPReachesAnIPv6Literal() throws {
    let collector = Net.loopback6Listener()
    #expect(collector.fd >= 0)
    defer { close(collector.fd) }
    let opened = try SinkSpec.parse("syslog+tcp://[::1]:\(collector.port)").open()
    guard let sink = opened as? SyslogSink else { Issue.record("not a syslog sink"); return }
    sink.clock = { writeTime }
    let conn = Net.accept(collector.fd)
    defer { close(conn) }
    sink.write(line: mcpLine, type: "mcp")
    sink.close()
    let m = "<134>1 2026-11-24T15:47:10.000042Z \(SyslogSink.systemHostname()) mcpsonar \(getpid()) mcp - " + text(mcpLine)
    #expect(text(Net.readStream(conn)) == "\(m.utf8.count) \(m)")
    var expected = SinkCounters()
    expected.written = 1
    #expect(sink.counters == expected)
}

@Test func syslogToAnAbsentCollectorDoesNotFailToOpen() throws {
    // Bind then close: a port where nothing listens.
    let probe = Net.loopbackBound(type: Net.stream)
    close(probe.fd)
    let sink = try SinkSpec.parse("syslog+tcp://127.0.0.1:\(probe.port)").open()
    sink.write(line: mcpLine, type: "mcp")
    var expected = SinkCounters()
    expected.dropped = 1
    expected.connectFailures = 1
    #expect(sink.counters == expected)
    #expect(sink.lastError == "connect to 127.0.0.1:\(probe.port): Connection refused")
    sink.close()
}
