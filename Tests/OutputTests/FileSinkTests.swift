#if canImport(Glibc)
import Glibc
#endif
import Testing
import SonarCore
@testable import SonarOutput

private func readFile(_ path: String) -> String? {
    guard let f = fopen(path, "r") else { return nil }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let n = fread(&buffer, 1, buffer.count, f)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return text(out)
}

// MARK: file

@Test func fileSinkReopenAfterRenameWritesANewFileAtThePath() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/eve.json"
    let sink = try FileSink(path: path)
    sink.write(line: bytes(#"{"n":1}"#))
    sink.write(line: bytes(#"{"n":2}"#))
    // logrotate renames, then SIGHUP: the lines not yet flushed still belong to the old file.
    #expect(rename(path, dir + "/eve.json.1") == 0)
    sink.reopen()
    sink.write(line: bytes(#"{"n":3}"#))
    sink.close()
    #expect(readFile(dir + "/eve.json.1") == "{\"n\":1}\n{\"n\":2}\n")
    #expect(readFile(path) == "{\"n\":3}\n")
    var expected = SinkCounters()
    expected.written = 3
    #expect(sink.counters == expected)
    #expect(sink.lastError == nil)
}

@Test func fileSinkReopenNeverTruncates() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/pins.json"
    let sink = try FileSink(path: path, truncate: true)
    sink.write(line: bytes("a"))
    sink.reopen()
    sink.write(line: bytes("b"))
    sink.close()
    #expect(readFile(path) == "a\nb\n")
}

@Test func fileSinkCountsLinesLostToWriteErrors() throws {
    // /dev/full: every write fails with ENOSPC.
    let sink = try FileSink(path: "/dev/full")
    for i in 0..<3 { sink.write(line: bytes("line \(i)")) }
    sink.flush()
    var expected = SinkCounters()
    expected.dropped = 3
    expected.writeErrors = 1
    #expect(sink.counters == expected)
    #expect(sink.lastError == "write to /dev/full: No space left on device")
}

@Test func standardOutputReopenIsANoOp() {
    let sink = FileSink()
    sink.reopen()
    #expect(sink.counters == SinkCounters())
    #expect(sink.lastError == nil)
}

/// Lines handed in place (`write(bytes:type:)`) are written and counted as lines handed as
/// arrays; a sink that implements only `write(line:type:)` gets them as arrays, with their type.
@Test func linesHandedInPlaceAreWrittenAsArraysAre() throws {
    let dir = Net.tempDir()
    defer { Net.removeTree(dir) }
    let path = dir + "/eve.json"
    let sink = try FileSink(path: path)
    bytes(#"{"n":1}"#).withUnsafeBytes { sink.write(bytes: $0, type: "mcp") }
    sink.write(line: bytes(#"{"n":2}"#))
    bytes(#"{"n":3}"#).withUnsafeBytes { sink.write(bytes: $0, type: "alert") }
    sink.close()
    #expect(readFile(path) == "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n")
    #expect(sink.counters.written == 3)

    final class LinesOnly: EventSink {
        var got: [(String, String)] = []
        func write(line: [UInt8]) { got.append((text(line), "")) }
        func write(line: [UInt8], type: String) { got.append((text(line), type)) }
        func flush() {}
        func close() {}
    }
    let lines = LinesOnly()
    bytes(#"{"n":4}"#).withUnsafeBytes { lines.write(bytes: $0, type: "flow") }
    #expect(lines.got.map(\.0) == [#"{"n":4}"#] && lines.got.map(\.1) == ["flow"])
}
