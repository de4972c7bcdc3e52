#if canImport(Glibc)
import Glibc
#endif
import Testing
import SonarCore
@testable import SonarOutput

// MARK: unix stream

@Test func unixStreamSinkSendsNewlineTerminatedLines() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/s"
    let listener = Net.unixBound(path, type: Net.stream)
    #expect(listener >= 0)
    defer { close(listener) }
    let sink = try UnixSocketSink(path: path, kind: .stream)
    let conn = Net.accept(listener)
    #expect(conn >= 0)
    defer { close(conn) }
    sink.write(line: bytes(#"{"event_type":"mcp","n":1}"#))
    sink.write(line: bytes(#"{"event_type":"alert","n":2}"#))
    sink.close()
    #expect(text(Net.readStream(conn)) == "{\"event_type\":\"mcp\",\"n\":1}\n{\"event_type\":\"alert\",\"n\":2}\n")
    var expected = SinkCounters()
    expected.written = 2
    #expect(sink.counters == expected)
}

@Test func unixStreamSinkReconnectsWhenTheListenerComesBack() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/s"
    var listener = Net.unixBound(path, type: Net.stream)
    let sink = try UnixSocketSink(path: path, kind: .stream)
    let clock = ManualClock()
    sink.sender.clock = { clock.now }
    var conn = Net.accept(listener)
    sink.write(line: bytes("a1"))
    sink.write(line: bytes("a2"))
    #expect(text(Net.readStream(conn, count: 6)) == "a1\na2\n")

    // The listener goes away: its connection closes and its path is removed.
    close(conn)
    close(listener)
    unlink(path)
    sink.write(line: bytes("b1"))   // sees the close; the next attempt is not due yet
    clock.advance(seconds: 1)
    sink.write(line: bytes("b2"))   // due: connect fails (no such file)
    sink.write(line: bytes("b3"))   // not due
    #expect(sink.counters.dropped == 3)
    #expect(sink.counters.connectFailures == 1)
    #expect(sink.lastError == "connect to \(path): No such file or directory")

    listener = Net.unixBound(path, type: Net.stream)
    defer { close(listener) }
    sink.write(line: bytes("b4"))   // still not due: dropped
    clock.advance(seconds: 1)
    sink.write(line: bytes("c1"))   // due: connects, sends
    conn = Net.accept(listener)
    defer { close(conn) }
    sink.write(line: bytes("c2"))
    sink.close()
    #expect(text(Net.readStream(conn)) == "c1\nc2\n")
    var expected = SinkCounters()
    expected.written = 4
    expected.dropped = 4
    expected.connectFailures = 1
    expected.reconnects = 1
    #expect(sink.counters == expected)
    #expect(sink.lastError == nil)
}

@Test func unixStreamSinkOpensWithoutAListenerAndCountsDrops() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let sink = try SinkSpec.parse("unix:\(dir)/absent").open()
    sink.write(line: bytes("x"))
    sink.write(line: bytes("y"))
    var expected = SinkCounters()
    expected.dropped = 2
    expected.connectFailures = 1   // the attempt at open; the next is a second away
    #expect(sink.counters == expected)
    #expect(sink.lastError == "connect to \(dir)/absent: No such file or directory")
    sink.close()
}

@Test func unixStreamSinkDoesNotBlockOnAListenerThatStopsReading() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/s"
    let listener = Net.unixBound(path, type: Net.stream)
    defer { close(listener) }
    var options = SocketSinkOptions()
    options.sendTimeoutSeconds = 0.2
    let sink = try UnixSocketSink(path: path, kind: .stream, options: options)
    let conn = Net.accept(listener)
    defer { close(conn) }
    let filler = String(repeating: "x", count: 16_000)
    let lines = (0..<100).map { i in bytes(#"{"n":\#(i),"pad":"\#(filler)"}"#) }
    let start = MonotonicClock.nanoseconds()
    for line in lines { sink.write(line: line) }
    let elapsed = seconds(since: start)
    // One wait of 0.2 s, then drops without waiting (100 waits would take 20 s).
    #expect(elapsed < 3)
    let stalled = sink.counters
    #expect(stalled.dropped > 0)
    #expect(stalled.droppedSlow == stalled.dropped)
    #expect(stalled.written > 0)
    // The listener reads again: the line cut part-way is finished first, framing intact.
    var received = Net.readStream(conn, idleMs: 200)
    sink.flush()
    sink.close()
    received += Net.readStream(conn)
    let c = sink.counters
    #expect(c.written + c.dropped == 100)
    let expected: [UInt8] = lines[0..<c.written].flatMap { line -> [UInt8] in line + [UInt8(0x0A)] }
    #expect(received.count == expected.count)
    #expect(received == expected)
}

// MARK: unix datagram

@Test func unixDatagramSinkSendsOneLinePerDatagramAndDropsOversized() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/d"
    let receiver = Net.unixBound(path, type: Net.datagram)
    defer { close(receiver) }
    var options = SocketSinkOptions()
    options.maxDatagramBytes = 100
    let sink = try SinkSpec.parse("unixgram:\(path)").open(options: options)
    sink.write(line: bytes(#"{"n":1}"#))
    sink.write(line: [UInt8](repeating: UInt8(ascii: "z"), count: 101))
    sink.write(line: [UInt8](repeating: UInt8(ascii: "y"), count: 100))
    #expect(Net.datagram(receiver).map(text) == #"{"n":1}"#)
    #expect(Net.datagram(receiver) == [UInt8](repeating: UInt8(ascii: "y"), count: 100))
    #expect(Net.queuedDatagrams(receiver).isEmpty)
    var expected = SinkCounters()
    expected.written = 2
    expected.dropped = 1
    expected.droppedOversized = 1
    #expect(sink.counters == expected)
}

@Test func unixDatagramSinkCountsWhatTheKernelRefusesAsOversized() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/d"
    let receiver = Net.unixBound(path, type: Net.datagram)
    defer { close(receiver) }
    let sink = try UnixSocketSink(path: path, kind: .datagram)
    // Far above any send buffer: EMSGSIZE.
    sink.write(line: [UInt8](repeating: UInt8(ascii: "z"), count: 16 << 20))
    sink.write(line: bytes("after"))
    #expect(Net.datagram(receiver).map(text) == "after")
    var expected = SinkCounters()
    expected.written = 1
    expected.dropped = 1
    expected.droppedOversized = 1
    #expect(sink.counters == expected)
}

@Test func unixDatagramSinkReconnectsToANewReceiver() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/d"
    var receiver = Net.unixBound(path, type: Net.datagram)
    let sink = try UnixSocketSink(path: path, kind: .datagram)
    let clock = ManualClock()
    sink.sender.clock = { clock.now }
    sink.write(line: bytes("a"))
    #expect(Net.datagram(receiver).map(text) == "a")
    close(receiver)
    unlink(path)
    sink.write(line: bytes("b"))   // refused; no attempt due
    receiver = Net.unixBound(path, type: Net.datagram)
    defer { close(receiver) }
    sink.write(line: bytes("c"))   // not connected, no attempt due
    clock.advance(seconds: 1)
    sink.write(line: bytes("d"))   // connects to the new receiver
    #expect(Net.datagram(receiver).map(text) == "d")
    #expect(Net.queuedDatagrams(receiver).isEmpty)
    var expected = SinkCounters()
    expected.written = 2
    expected.dropped = 2
    expected.writeErrors = 1
    expected.reconnects = 1
    #expect(sink.counters == expected)
}

@Test func unixDatagramSinkDoesNotBlockOnAReceiverThatStopsReading() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/d"
    let receiver = Net.unixBound(path, type: Net.datagram)
    defer { close(receiver) }
    var options = SocketSinkOptions()
    options.sendTimeoutSeconds = 0.2
    let sink = try UnixSocketSink(path: path, kind: .datagram, options: options)
    let lines = (0..<200).map { bytes(#"{"n":\#($0)}"#) }
    let start = MonotonicClock.nanoseconds()
    for line in lines { sink.write(line: line) }
    #expect(seconds(since: start) < 3)
    let c = sink.counters
    #expect(c.written > 0)
    #expect(c.dropped > 0)
    #expect(c.written + c.dropped == 200)
    #expect(c.droppedSlow == c.dropped)
    // What the receiver holds is exactly the lines counted as written, in order.
    #expect(Net.queuedDatagrams(receiver) == Array(lines[0..<c.written]))
    // It reads again: the next line goes through.
    sink.write(line: bytes("again"))
    #expect(Net.datagram(receiver).map(text) == "again")
    #expect(sink.counters.written == c.written + 1)
}
