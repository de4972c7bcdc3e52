import Testing
import SonarCore
@testable import SonarProtocols

private func heartbeat(_ ms: UInt64) -> [UInt8] {
    [0xF0, 0x9F, 0x92, 0x93] + (0..<8).map { UInt8(truncatingIfNeeded: ms >> (8 * UInt64($0))) }
}

/// Feeds chunks (each optionally split into single bytes) and returns what came out.
private func run(_ chunks: [(Direction, [UInt8])], bytewise: Bool, limits: LineJSONLimits = .init()) -> (LineJSONParser, [LineJSONOutput]) {
    let p = LineJSONParser(limits: limits)
    var out: [LineJSONOutput] = []
    for (d, c) in chunks {
        let pieces = bytewise ? c.map { [$0] } : [c]
        for piece in pieces { piece.withUnsafeBytes { p.feed($0, direction: d) { out.append($0) } } }
    }
    return (p, out)
}

@Test(arguments: [false, true])
func swiftSDKFramingWithHeartbeats(bytewise: Bool) {
    let a = Array(#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#.utf8)
    let b = Array(#"{"jsonrpc":"2.0","id":1,"result":{}}"#.utf8)
    let c = Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8)
    let chunks: [(Direction, [UInt8])] = [
        (.toServer, heartbeat(1) + a + [0x0A]),
        (.toClient, b + [0x0A] + heartbeat(2)),
        (.toServer, heartbeat(3) + c + [0x0A] + heartbeat(4)),
    ]
    let (p, out) = run(chunks, bytewise: bytewise)
    #expect(p.verdict == .lineJSON)
    #expect(out == [.heartbeat(.toServer), .message(.toServer, a), .message(.toClient, b), .heartbeat(.toClient),
                    .heartbeat(.toServer), .message(.toServer, c), .heartbeat(.toServer)])
}

@Test(arguments: [false, true])
func httpAndBinaryAreNotLineJSON(bytewise: Bool) {
    #expect(run([(.toServer, Array("POST /mcp HTTP/1.1\r\n".utf8))], bytewise: bytewise).0.verdict == .other)
    #expect(run([(.toServer, [0x16, 0x03, 0x01, 0x00, 0x20])], bytewise: bytewise).0.verdict == .other)
    // JSON, but not JSON-RPC: a complete first line without "jsonrpc".
    #expect(run([(.toServer, Array("{\"hello\":1}\n{\"x\":2}\n".utf8))], bytewise: bytewise).0.verdict == .other)
}

@Test func undecidedUntilTheFirstLineSaysSo() {
    let (p, out) = run([(.toServer, Array(#"{"id":1,"#.utf8))], bytewise: false)
    #expect(p.verdict == .undecided)
    #expect(out.isEmpty)
    var more: [LineJSONOutput] = []
    Array((#""jsonrpc":"2.0","method":"ping"}"# + "\n").utf8).withUnsafeBytes { p.feed($0, direction: .toServer) { more.append($0) } }
    #expect(p.verdict == .lineJSON)
    #expect(more == [.message(.toServer, Array(#"{"id":1,"jsonrpc":"2.0","method":"ping"}"#.utf8))])
}

@Test func gapDropsOnlyTheDamagedLine() {
    let (p, _) = run([(.toServer, Array("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}\n{\"jsonrpc\":".utf8))], bytewise: false)
    p.gap(10, direction: .toServer)
    var out: [LineJSONOutput] = []
    Array("2.0\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"b\"}\n".utf8).withUnsafeBytes { p.feed($0, direction: .toServer) { out.append($0) } }
    #expect(out == [.message(.toServer, Array(#"{"jsonrpc":"2.0","id":2,"method":"b"}"#.utf8))])
    #expect(p.counters["ndjson.gap"] == 1)
}

@Test func overlongLineIsSkippedToItsNewline() {
    var limits = LineJSONLimits()
    limits.maxLineBytes = 64
    let long = Array(("{\"jsonrpc\":\"2.0\",\"method\":\"x\",\"params\":\"" + String(repeating: "a", count: 200) + "\"}\n").utf8)
    let next = Array(#"{"jsonrpc":"2.0","method":"y"}"#.utf8)
    for bytewise in [false, true] {
        let (p, out) = run([(.toServer, Array(#"{"jsonrpc":"2.0","method":"w"}"#.utf8) + [0x0A] + long + next + [0x0A])], bytewise: bytewise, limits: limits)
        #expect(out == [.message(.toServer, Array(#"{"jsonrpc":"2.0","method":"w"}"#.utf8)),
                        .anomaly(.toServer, "ndjson.line_too_long"), .message(.toServer, next)])
        #expect(p.counters["ndjson.line_too_long"] == 1)
    }
}

@Test func lastLineWithoutNewlineAtEnd() {
    let (p, _) = run([(.toServer, Array(#"{"jsonrpc":"2.0","method":"bye"}"#.utf8))], bytewise: false)
    #expect(p.verdict == .lineJSON)
    var out: [LineJSONOutput] = []
    p.end(direction: .toServer) { out.append($0) }
    #expect(out == [.message(.toServer, Array(#"{"jsonrpc":"2.0","method":"bye"}"#.utf8))])
}
