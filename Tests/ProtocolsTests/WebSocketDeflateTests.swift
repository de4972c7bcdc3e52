import SonarCore
import Testing
@testable import SonarProtocols

/// MCP-like messages that share most of their text, so context takeover pays off.
private func toolCall(_ i: Int) -> String {
    #"{"jsonrpc":"2.0","id":\#(i),"method":"tools/call","params":{"name":"read_file","arguments":{"path":"/srv/data/report-\#(i).txt"}}}"#
}

private func toolResult(_ i: Int) -> String {
    #"{"jsonrpc":"2.0","id":\#(i),"result":{"content":[{"type":"text","text":"line \#(i) of the report, unchanged boilerplate follows"}],"isError":false}}"#
}

@Suite("WebSocket permessage-deflate")
struct WebSocketDeflateTests {
    @Test func negotiationParsing() {
        func parse(_ s: String?) -> (WebSocketDeflateParameters, [String]) { WebSocketDeflateParameters.negotiated(from: s) }
        #expect(parse(nil).0 == WebSocketDeflateParameters())
        var python = WebSocketDeflateParameters()
        python.enabled = true
        python.serverMaxWindowBits = 12
        python.clientMaxWindowBits = 12
        let p = parse("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        #expect(p.0 == python && p.1.isEmpty)
        let q = parse(#"Permessage-Deflate ;server_no_context_takeover;  client_no_context_takeover ; client_max_window_bits="10""#)
        #expect(q.0.enabled && q.0.serverNoContextTakeover && q.0.clientNoContextTakeover)
        #expect(q.0.clientMaxWindowBits == 10 && q.0.serverMaxWindowBits == 15 && q.1.isEmpty)
        #expect(q.0.noContextTakeover(.toServer) && q.0.maxWindowBits(.toServer) == 10)
        let bad = parse("permessage-deflate; server_max_window_bits=16; foo, permessage-deflate, x-webkit-deflate-frame")
        #expect(bad.0.enabled && bad.0.serverMaxWindowBits == 15)
        #expect(bad.1 == ["websocket.bad_extension_params", "websocket.bad_extension_params",
                          "websocket.bad_extension_params", "websocket.unknown_extension"])
        let other = parse("x-custom")
        #expect(!other.0.enabled && other.1 == ["websocket.unknown_extension"])
        // Reported once, with the first output call, and counted.
        let r = wsRunAllSplits([.send(.toClient, sFrame(1, bytes("x")))], handshake: .init(extensions: "x-custom"))
        #expect(r.outputs == [.anomaly(.toClient, "websocket.unknown_extension"), text(.toClient, "x")])
        #expect(r.counters == counters([("websocket.unknown_extension", 1)]))
    }

    @Test func contextTakeoverAcrossMessagesBothDirections() {
        let up = WSCompressor(), down = WSCompressor()
        var steps: [Step] = []
        var expected: [WebSocketOutput] = []
        var sizes: [Int] = []
        for i in 1...5 {
            let c = up.message(bytes(toolCall(i)))
            let s = down.message(bytes(toolResult(i)))
            sizes.append(c.count)
            steps.append(.send(.toServer, cFrame(1, c, rsv1: true)))
            steps.append(.send(.toClient, sFrame(1, s, rsv1: true)))
            expected += [text(.toServer, toolCall(i)), text(.toClient, toolResult(i))]
        }
        // Later messages reference earlier ones: decoding them needs the kept window.
        #expect(sizes[4] < sizes[0] / 2)
        // A fragmented compressed message: RSV1 on the first frame only, ping in between.
        let frag = up.message(bytes(toolCall(6)))
        let cut = frag.count / 2
        steps.append(.send(.toServer, cFrame(1, Array(frag[..<cut]), fin: false, rsv1: true)))
        steps.append(.send(.toServer, cFrame(9, [])))
        steps.append(.send(.toServer, cFrame(0, Array(frag[cut...]))))
        expected += [.ping(.toServer, []), text(.toServer, toolCall(6))]
        // An uncompressed message in between keeps the compression context untouched.
        steps.append(.send(.toClient, sFrame(1, bytes("plain"))))
        steps.append(.send(.toClient, sFrame(2, down.message(bytes(toolResult(7))), rsv1: true)))
        expected += [text(.toClient, "plain"), .message(.toClient, .binary, bytes(toolResult(7)))]
        // Empty compressed messages: one 00 byte (RFC 7692 7.2.3.6), or no payload at all (the
        // tail alone would be an incomplete stored block, so it is not appended).
        steps.append(.send(.toClient, sFrame(1, down.message([]), rsv1: true)))
        steps.append(.send(.toClient, sFrame(1, [], rsv1: true)))
        steps.append(.send(.toClient, sFrame(1, down.message(bytes(toolResult(8))), rsv1: true)))
        expected += [text(.toClient, ""), text(.toClient, ""), text(.toClient, toolResult(8))]

        let r = wsRunAllSplits(steps, handshake: deflateHandshake)
        #expect(r.outputs == expected)
        #expect(r.counters.isEmpty)
    }

    @Test func noContextTakeoverResetsPerMessage() {
        let hs = WebSocketHandshake(extensions: "permessage-deflate; server_no_context_takeover; client_no_context_takeover")
        let up = WSCompressor(), down = WSCompressor()
        var steps: [Step] = []
        var expected: [WebSocketOutput] = []
        for i in 1...3 {
            up.reset()
            down.reset()
            // The server also ends messages with a final block: fine when each message stands alone.
            steps.append(.send(.toServer, cFrame(1, up.message(bytes(toolCall(i))), rsv1: true)))
            steps.append(.send(.toClient, sFrame(1, down.message(bytes(toolResult(i)), finish: true), rsv1: true)))
            expected += [text(.toServer, toolCall(i)), text(.toClient, toolResult(i))]
        }
        let p = WebSocketConnectionParser(handshake: hs)
        #expect(p.deflate.clientNoContextTakeover && p.deflate.serverNoContextTakeover)
        let r = wsRunAllSplits(steps, handshake: hs)
        #expect(r.outputs == expected)
        #expect(r.counters.isEmpty)

        // A gap under no-context-takeover damages one message; the next one decodes.
        up.reset()
        let m1 = cFrame(1, up.message(bytes(toolCall(1))), rsv1: true)
        up.reset()
        let r2 = wsRunAllSplits([
            .send(.toServer, Array(m1[0..<10])), .gap(.toServer, m1.count - 20), .send(.toServer, Array(m1[(m1.count - 10)...])),
            .send(.toServer, cFrame(1, up.message(bytes(toolCall(2))), rsv1: true)),
        ], handshake: hs)
        #expect(r2.outputs == [text(.toServer, toolCall(2))])
        #expect(r2.counters == counters([("websocket.gap", 1), ("websocket.message_damaged", 1)]))
    }

    @Test func finalBlockWithContextTakeoverKeepsTheWindow() {
        let down = WSCompressor()
        let first = bytes(toolResult(1))
        let m1 = down.message(first, finish: true)
        down.reset(dictionary: first)
        let m2 = down.message(bytes(toolResult(2)))
        let r = wsRunAllSplits([.send(.toClient, sFrame(1, m1, rsv1: true) + sFrame(1, m2, rsv1: true))],
                               handshake: deflateHandshake)
        #expect(r.outputs == [text(.toClient, toolResult(1)), text(.toClient, toolResult(2))])
        #expect(r.counters.isEmpty)
    }

    @Test func windowBits12AsPythonWebsocketsNegotiates() {
        let hs = WebSocketHandshake(subprotocol: "mcp",
                                    extensions: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
        #expect(WebSocketConnectionParser(handshake: hs).deflate.serverMaxWindowBits == 12)
        let up = WSCompressor(windowBits: 12), down = WSCompressor(windowBits: 12)
        // Messages longer than the 4 KiB window, so distance limits matter.
        var big = ""
        for i in 0..<200 { big += toolResult(i) }
        var steps: [Step] = []
        var expected: [WebSocketOutput] = []
        for i in 1...4 {
            steps.append(.send(.toServer, cFrame(1, up.message(bytes(toolCall(i))), rsv1: true)))
            steps.append(.send(.toClient, sFrame(1, down.message(bytes(big + "\(i)")), rsv1: true)))
            expected += [text(.toServer, toolCall(i)), text(.toClient, big + "\(i)")]
        }
        let r = wsRunAllSplits(steps, handshake: hs)
        #expect(r.outputs == expected)
        #expect(r.counters.isEmpty)
    }

    @Test func deflateBombStopsAtTheLimit() {
        // 200 MB of zeros compress to about 200 KB (ratio ~1000).
        let c = WSCompressor(level: 9)
        var bomb: [UInt8] = []
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<199 { bomb += c.message(zeros) + [0, 0, 0xFF, 0xFF] }
        bomb += c.message(zeros)
        let steps: [Step] = [
            .send(.toClient, sFrame(2, bomb, rsv1: true)),
            .send(.toClient, sFrame(1, bytes("plain after"))),
            .send(.toClient, sFrame(1, WSCompressor().message(bytes("x")), rsv1: true)),
        ]
        let r = wsRunAllSplits(steps, handshake: deflateHandshake)
        #expect(r.outputs == [.anomaly(.toClient, "websocket.decompression_bomb"),
                              .anomaly(.toClient, "websocket.deflate_context_lost"),
                              text(.toClient, "plain after")])
        #expect(r.counters == counters([("websocket.decompression_bomb", 1), ("websocket.deflate_context_lost", 1),
                                        ("websocket.message_undecodable", 1)]))

        // Below the ratio but above the size limits: each limit stops it.
        var limits = WebSocketLimits()
        limits.maxMessageBytes = 100_000
        let text = (0..<20_000).map { UInt8(truncatingIfNeeded: ($0 * 2_654_435_761) >> 13) }
        let m = WSCompressor().message(text)
        let r2 = wsRunAllSplits([.send(.toClient, sFrame(2, m, rsv1: true))], handshake: deflateHandshake, limits: limits)
        #expect(r2.outputs == [.message(.toClient, .binary, text)])
        limits.maxMessageBytes = 10_000
        let r3 = wsRunAllSplits([.send(.toClient, sFrame(2, m, rsv1: true))], handshake: deflateHandshake, limits: limits)
        #expect(r3.outputs == [.anomaly(.toClient, "websocket.message_too_large"),
                               .anomaly(.toClient, "websocket.deflate_context_lost")])
        limits = WebSocketLimits()
        limits.maxDecompressedBytes = 10_000
        let r4 = wsRunAllSplits([.send(.toClient, sFrame(2, m, rsv1: true))], handshake: deflateHandshake, limits: limits)
        #expect(r4.outputs == [.anomaly(.toClient, "websocket.decompression_bomb"),
                               .anomaly(.toClient, "websocket.deflate_context_lost")])
    }

    @Test func corruptDeflateData() {
        let up = WSCompressor()
        let good = up.message(bytes(toolCall(1)))
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, good, rsv1: true)),
            .send(.toServer, cFrame(1, [0xFF, 0xFF, 0xFF, 0xFF, 0x00], rsv1: true)),  // BTYPE 11: invalid
            .send(.toServer, cFrame(1, bytes("uncompressed still works"))),
            .send(.toServer, cFrame(1, up.message(bytes(toolCall(2))), rsv1: true)),
            .send(.toClient, sFrame(1, WSCompressor().message(bytes("other direction")), rsv1: true)),
        ], handshake: deflateHandshake)
        #expect(r.outputs == [
            text(.toServer, toolCall(1)),
            .anomaly(.toServer, "websocket.deflate_error"), .anomaly(.toServer, "websocket.deflate_context_lost"),
            text(.toServer, "uncompressed still works"),
            text(.toClient, "other direction"),
        ])
        #expect(r.counters == counters([("websocket.deflate_error", 1), ("websocket.deflate_context_lost", 1),
                                        ("websocket.message_undecodable", 1)]))
    }

    @Test func gapInCompressedStreamLosesContextOnce() {
        let down = WSCompressor(), up = WSCompressor()
        let m1 = sFrame(1, down.message(bytes(toolResult(1))), rsv1: true)
        let m2 = sFrame(1, down.message(bytes(toolResult(2))), rsv1: true)
        var steps: [Step] = [
            .send(.toClient, m1),
            .send(.toClient, Array(m2[0..<6])), .gap(.toClient, m2.count - 12), .send(.toClient, Array(m2[(m2.count - 6)...])),
        ]
        for i in 3...5 { steps.append(.send(.toClient, sFrame(1, down.message(bytes(toolResult(i))), rsv1: true))) }
        steps.append(.send(.toClient, sFrame(1, bytes("uncompressed"))))
        steps.append(.send(.toServer, cFrame(1, up.message(bytes(toolCall(1))), rsv1: true)))
        let r = wsRunAllSplits(steps, handshake: deflateHandshake)
        #expect(r.outputs == [
            text(.toClient, toolResult(1)),
            .anomaly(.toClient, "websocket.deflate_context_lost"),
            text(.toClient, "uncompressed"),
            text(.toServer, toolCall(1)),
        ])
        #expect(r.counters == counters([("websocket.gap", 1), ("websocket.message_damaged", 1),
                                        ("websocket.deflate_context_lost", 1), ("websocket.message_undecodable", 3)]))
    }

    @Test func rsv1OnContinuationAndControlFrames() {
        let down = WSCompressor()
        let m = down.message(bytes("hello hello hello"))
        let r = wsRunAllSplits([
            .send(.toClient, sFrame(1, Array(m[..<3]), fin: false, rsv1: true)),
            .send(.toClient, sFrame(0, Array(m[3...]), rsv1: true)),
            .send(.toClient, sFrame(9, [], rsv1: true)),
        ], handshake: deflateHandshake)
        #expect(r.outputs == [.anomaly(.toClient, "websocket.rsv1_on_continuation"), text(.toClient, "hello hello hello"),
                              .anomaly(.toClient, "websocket.rsv_without_extension"), .ping(.toClient, [])])
    }
}

/// Extension parameters are trimmed of spaces and tabs by whole Characters: as the reversed-drop
/// form did, on every mix of spaces, tabs, combining marks after a space, and other text.
@Test func extensionParameterTrimAnswersAsDroppingWholeCharacters() {
    func oracle(_ s: Substring) -> String {
        String(s.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
    let pieces = ["", " ", "\t", "a", "é", " \u{301}", "\u{301}", "x=1", "\"15\"", "  \t", "🙂"]
    var checked = 0
    for a in pieces { for b in pieces { for c in pieces {
        let text = a + b + c
        // As a whole and as a slice of a longer string.
        let whole = Substring(text)
        let longer = "[" + text + "]"
        let slice = longer.dropFirst().dropLast()
        #expect(WebSocketDeflateParameters.trim(whole) == oracle(whole), "\(text.debugDescription)")
        #expect(WebSocketDeflateParameters.trim(slice) == oracle(slice), "\(text.debugDescription)")
        checked += 1
    } } }
    #expect(checked == 1331)
    // And the parsing that uses it.
    let (p, anomalies) = WebSocketDeflateParameters.negotiated(from: " permessage-deflate ;\tclient_max_window_bits = \"10\" ; server_no_context_takeover ")
    #expect(p.enabled && p.serverNoContextTakeover && p.clientMaxWindowBits == 10 && anomalies.isEmpty)
}
