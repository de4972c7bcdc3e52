import SonarCore
import Testing
@testable import SonarProtocols

private func post(_ body: String, path: String = "/mcp") -> String {
    "POST \(path) HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
}

private func jsonResponse(_ body: String) -> String {
    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(body.utf8.count)\r\n\r\n\(body)"
}

private func compressedResponse(_ payload: [UInt8], encoding: String, windowBits: Int32,
                                 type: String = "application/json") -> [UInt8] {
    let z = compress(payload, windowBits: windowBits)
    return bytes("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Encoding: \(encoding)\r\nContent-Length: \(z.count)\r\n\r\n") + z
}

@Suite("HTTP compression, limits, garbage and gaps")
struct HTTPRobustnessTests {
    // MARK: Compression

    @Test(arguments: [("gzip", Int32(31)), ("x-gzip", 31), ("deflate", 15), ("deflate", -15), ("gzip", 15)])
    func compressedJSONBody(encoding: String, windowBits: Int32) {
        // A large, varied JSON body so that several 16 KiB inflate steps are needed.
        let items = (0..<3000).map { #"{"name":"tool\#($0)","description":"does thing \#($0 * 7919 % 1000)"}"# }
        let payload = bytes(#"{"jsonrpc":"2.0","id":2,"result":{"tools":["# + items.joined(separator: ",") + "]}}")
        let r = runAllSplits([up(post("{}")), down(compressedResponse(payload, encoding: encoding, windowBits: windowBits))])
        #expect(r.outputs.count == 4)
        if case .body(let d, _, let b) = r.outputs.last {
            #expect(d == .toClient)
            #expect(b == payload)
        } else {
            Issue.record("no body: \(summarize(r.outputs))")
        }
        #expect(r.counters.isEmpty)
    }

    @Test func smallGzipBodyByteByByteAndChunked() {
        let payload = bytes(#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hi"}]}}"#)
        let z = compress(payload, windowBits: 31)
        let resp = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
            + chunked(z, size: 7)
        let r = runAllSplits([up(post("{}")), down(resp), down(jsonResponse("{}"))])
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
            .resp(0, 200, "POST"), .body(.toClient, 0, String(decoding: payload, as: UTF8.self)),
            .resp(1, 200, nil), .body(.toClient, 1, "{}"),
        ])
    }

    @Test func gzipSSEStream() {
        let events = "event: message\r\ndata: {\"a\":1}\r\n\r\n: ping\r\n\r\nevent: message\r\ndata: {\"b\":2}\r\n\r\n"
        let z = compress(bytes(events), windowBits: 31)
        let resp = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
            + chunked(z, size: 5)
        let r = runAllSplits([up("GET /mcp HTTP/1.1\r\n\r\n"), down(resp)])
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/mcp"), .resp(0, 200, "GET"),
            .sse(0, "message", #"{"a":1}"#, nil), .sse(0, "message", #"{"b":2}"#, nil),
        ])
    }

    @Test func corruptAndTruncatedCompressedBodies() {
        var z = compress(bytes(#"{"a":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#), windowBits: 31)
        let truncated = Array(z.prefix(z.count - 6))
        z[12] ^= 0xFF
        z[13] ^= 0xFF
        let corruptResp = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: \(z.count)\r\n\r\n") + z
        let truncResp = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: \(truncated.count)\r\n\r\n") + truncated
        let r = runAllSplits([up(post("{}") + post("{}")), down(corruptResp), down(truncResp)])
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}"),
            .resp(0, 200, "POST"), .anomaly(.toClient, "http.decompression_error"),
            .resp(1, 200, "POST"), .anomaly(.toClient, "http.truncated_compressed_body"),
        ])
    }

    @Test func unsupportedContentEncodingIsSkipped() {
        let r = runAllSplits([down("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: br\r\ncontent-length: 4\r\n\r\nxxxx"
                                   + jsonResponse("[1]"))])
        #expect(summarize(r.outputs) == [
            .resp(0, 200, nil), .anomaly(.toClient, "http.unsupported_content_encoding"),
            .resp(1, 200, nil), .body(.toClient, 1, "[1]"),
        ])
    }

    /// 100 MB of zeros deflated to about 100 KB: the parser must stop early, never allocate it.
    @Test func deflateBombStopsAtTheRatioLimit() {
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        let bomb = compressStream(windowBits: 31, level: 9) { write in
            for _ in 0..<100 { write(zeros) }
        }
        #expect(bomb.count < 200_000)
        let resp = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n")
            + chunked(bomb, size: 4096)
        let r = runAllSplits([down(resp), down(jsonResponse("{}"))])
        #expect(summarize(r.outputs) == [
            .resp(0, 200, nil), .anomaly(.toClient, "http.decompression_ratio"), .resp(1, 200, nil), .body(.toClient, 1, "{}"),
        ])
        // Memory: what the parser holds stays far below what the bomb would inflate to, and is
        // released when the message ends.
        let p = HTTPConnectionParser()
        var peak = 0
        resp.withUnsafeBytes { buf in
            var i = 0
            while i < buf.count {
                let e = min(buf.count, i + 8)  // small pieces, to observe the body as it grows
                p.feed(UnsafeRawBufferPointer(rebasing: buf[i..<e]), direction: .toClient) { _ in }
                peak = max(peak, p.bufferedBytes)
                i = e
            }
        }
        #expect(peak > 0 && peak < 4 << 20)  // about 0.8 MB seen: the ratio trips long before 100 MB
        #expect(p.bufferedBytes == 0)
    }

    @Test func deflateBombStopsAtTheAbsoluteLimit() {
        // Ratio check off: the absolute cap on inflated bytes ends it. SSE keeps nothing of a
        // line without line ends beyond its own event limit.
        var limits = HTTPLimits()
        limits.maxDecompressionRatio = Int.max
        limits.maxDecompressedBytes = 8 << 20
        limits.maxSSEEventBytes = 1 << 20
        let zeros = [UInt8](repeating: 0x41, count: 1 << 20)
        let bomb = compressStream(windowBits: 15, level: 9) { write in
            for _ in 0..<32 { write(zeros) }
        }
        let resp = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: deflate\r\ncontent-length: \(bomb.count)\r\n\r\n") + bomb
        let r = runAllSplits([down(resp), down(jsonResponse("{}"))], limits: limits)
        #expect(summarize(r.outputs) == [
            .resp(0, 200, nil), .anomaly(.toClient, "sse.event_too_large"), .anomaly(.toClient, "http.decompressed_too_large"),
            .resp(1, 200, nil), .body(.toClient, 1, "{}"),
        ])
    }

    // MARK: Limits

    @Test func headerTooLargeThenRecovery() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 256
        let big = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "a", count: 400) + "\r\n\r\n"
        let r = runAllSplits([up(big + post("{}"))], limits: limits)
        #expect(summarize(r.outputs) == [
            .anomaly(.toServer, "http.header_too_large"), .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
        ])
        // An overlong start line of a connection already known to be HTTP.
        let longLine = "GET /" + String(repeating: "p", count: 400) + " HTTP/1.1\r\n\r\n"
        let r2 = runAllSplits([up(post("{}") + longLine + post("[]"))], limits: limits)
        #expect(summarize(r2.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"), .anomaly(.toServer, "http.header_too_large"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, "[]"),
        ])
    }

    @Test func tooManyHeadersThenRecovery() {
        var limits = HTTPLimits()
        limits.maxHeaders = 10
        let many = "GET / HTTP/1.1\r\n" + (0..<11).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        let ok = "GET /ok HTTP/1.1\r\n" + (0..<10).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        let r = runAllSplits([up(ok + many + post("{}"))], limits: limits)
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/ok"), .anomaly(.toServer, "http.too_many_headers"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}"),
        ])
        #expect(r.counters["http.too_many_headers"] == 1)
    }

    /// A head that arrives whole is copied at once (`wholeHead`), one that arrives in pieces
    /// line by line: both must stop at the same byte. Exactly at each limit passes, one over
    /// does not, however the bytes are cut.
    @Test func wholeHeadsStopAtTheLimitsLineByLineHeadsDo() {
        var limits = HTTPLimits()
        limits.maxHeaderBytes = 96 // the POST's head below is 82 bytes with its three fields
        limits.maxHeaders = 3
        // A start line of 16 bytes, one field line of `n + 5` and the blank line: `n + 23` bytes.
        func head(_ n: Int) -> String { "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: n) + "\r\n\r\n" }
        func fields(_ n: Int) -> String { "GET / HTTP/1.1\r\n" + String(repeating: "A: b\r\n", count: n) + "\r\n" }
        let passed: [Out] = [.req(0, "GET", "/"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}")]
        #expect(summarize(runAllSplits([up(head(73) + post("{}"))], limits: limits).outputs) == passed)
        #expect(summarize(runAllSplits([up(head(74) + post("{}"))], limits: limits).outputs) == [
            .anomaly(.toServer, "http.header_too_large"), .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
        ])
        #expect(summarize(runAllSplits([up(fields(3) + post("{}"))], limits: limits).outputs) == passed)
        let r = runAllSplits([up(fields(4) + post("{}"))], limits: limits)
        #expect(summarize(r.outputs) == [
            .anomaly(.toServer, "http.too_many_headers"), .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
        ])
    }

    @Test func jsonBodyTooLargeIsNotBuffered() {
        var limits = HTTPLimits()
        limits.maxBodyBytes = 100
        let big = "[" + String(repeating: "1,", count: 100) + "1]"
        let r = runAllSplits([up(post(big) + post("[2]"))], limits: limits)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .anomaly(.toServer, "http.body_too_large"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "[2]"),
        ])
    }

    @Test func oversizedSSEEventInResponse() {
        var limits = HTTPLimits()
        limits.maxSSEEventBytes = 64
        let body = "data: " + String(repeating: "x", count: 100) + "\n\ndata: small\n\n"
        let r = runAllSplits([down("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: \(body.utf8.count)\r\n\r\n" + body)],
                             limits: limits)
        #expect(summarize(r.outputs) == [
            .resp(0, 200, nil), .anomaly(.toClient, "sse.event_too_large"), .sse(0, "message", "small", nil),
        ])
        #expect(r.counters["sse.event_too_large"] == 1)
    }

    @Test func badChunksResync() {
        var limits = HTTPLimits()
        limits.maxChunkLineBytes = 32
        let head = "POST /c HTTP/1.1\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
        for bad in ["zz\r\n{}\r\n0\r\n\r\n",                              // not hex
                    "2\r\n{}XX0\r\n\r\n",                                   // no CRLF after data
                    "2;" + String(repeating: "e", count: 40) + "\r\n{}\r\n0\r\n\r\n",  // chunk line too long
                    "FFFFFFFFFFFFFFFFFF\r\n"] {                             // size overflows
            let r = runAllSplits([up(head + bad + post("{}"))], limits: limits)
            #expect(summarize(r.outputs) == [
                .req(0, "POST", "/c"), .anomaly(.toServer, "http.bad_chunk"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}"),
            ], "\(bad)")
        }
    }

    @Test func requestWithUnframeableTransferEncoding() {
        let r = runAllSplits([up("POST /a HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\nxx\r\n" + post("{}"))])
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/a"), .anomaly(.toServer, "http.bad_transfer_encoding"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}"),
        ])
    }

    @Test func tooManyPendingRequestsForgetsTheOldest() {
        var limits = HTTPLimits()
        limits.maxPendingRequests = 2
        let r = runAllSplits([up("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"),
                              down("HTTP/1.1 204 No Content\r\n\r\n")], limits: limits)
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/1"), .req(1, "GET", "/2"), .anomaly(.toServer, "http.too_many_pending_requests"),
            .req(2, "GET", "/3"), .resp(1, 204, "GET"),
        ])
    }

    // MARK: Garbage

    @Test(arguments: [
        [UInt8]([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xFC, 0x03, 0x03]),  // TLS ClientHello
        bytes("SSH-2.0-OpenSSH_9.6\r\n"),
        bytes("get / http/1.1\r\n\r\n"),
        bytes("GET /\r\n"),                 // HTTP/0.9
        bytes("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        bytes("{\"jsonrpc\":\"2.0\",\"id\":1}\n"),  // raw TCP JSON lines
    ])
    func notHTTPIsDecidedEarly(input: [UInt8]) {
        let r = runAllSplits([up(input), up(post("{}")), down(jsonResponse("{}"))])
        #expect(r.isHTTP == false)
        #expect(r.outputs.isEmpty)
    }

    @Test func undecidedUntilAStartLineIsComplete() {
        let p = HTTPConnectionParser()
        bytes("POST /mcp HTT").withUnsafeBytes { p.feed($0, direction: .toServer) { _ in } }
        #expect(p.isHTTP == nil)
        bytes("P/1.1\r\n").withUnsafeBytes { p.feed($0, direction: .toServer) { _ in } }
        #expect(p.isHTTP == true)
    }

    @Test func garbageBetweenMessagesIsReportedOnceAndSkipped() {
        let garbage = "\u{1}\u{2}binary junk\r\nmore junk GET nothing\r\nHTTP/1.1 in the wrong direction\r\n"
        let r = runAllSplits([up(post("{}") + garbage + post("[]")),
                              down(jsonResponse("{}") + "junk{\"x\":1}" + jsonResponse("[]"))])
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"), .anomaly(.toServer, "http.bad_start_line"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, "[]"),
            .resp(0, 200, "POST"), .body(.toClient, 0, "{}"), .anomaly(.toClient, "http.bad_start_line"),
            .resp(1, 200, "POST"), .body(.toClient, 1, "[]"),
        ])
        #expect(r.counters["http.resynced"] == 2)
    }

    @Test func deterministicRandomGarbageNeverCrashes() {
        var rng = SplitMix64(seed: 42)
        for _ in 0..<100 {
            var junk = (0..<Int.random(in: 0..<600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Sprinkle protocol-looking fragments in.
            for frag in ["HTTP/1.1 200 OK\r\n", "\r\n\r\n", "POST / HTTP/1.1\r\n", "0\r\n", "content-length: 5\r\n",
                         "transfer-encoding: chunked\r\n", "data: x\n\n"] where Bool.random(using: &rng) {
                let at = Int.random(in: 0...junk.count, using: &rng)
                junk.insert(contentsOf: bytes(frag), at: at)
            }
            runAllSplits([up(post("{}")), up(junk), down(jsonResponse("{}")), down(junk), .gap(.toClient, 3), down(junk),
                          .end(.toServer), .end(.toClient)])
        }
    }

    // MARK: Gaps

    /// A one-byte gap at every position of a response stream: the parser must stay deterministic
    /// and deliver exactly what was not damaged.
    @Test func gapAtEveryPositionOfTheResponseStream() {
        let r1 = jsonResponse(#"{"r":1}"#)
        let sseHead = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        let ev1 = "data: {\"e\":1}\r\n\r\n", ev2 = "data: {\"e\":2}\r\n\r\n"
        let c1 = "\(String(ev1.utf8.count, radix: 16))\r\n\(ev1)\r\n", c2 = "\(String(ev2.utf8.count, radix: 16))\r\n\(ev2)\r\n"
        let stream = bytes(r1 + sseHead + c1 + c2 + "0\r\n\r\n")
        let r1Head = r1.utf8.count - 7
        let sseStart = r1.utf8.count, c1Data = sseStart + sseHead.utf8.count + 4
        let c1DataEnd = c1Data + ev1.utf8.count, c2Start = c1DataEnd + 2
        let c2Data = c2Start + 4, c2DataEnd = c2Data + ev2.utf8.count

        let e1 = Out.sse(1, "message", #"{"e":1}"#, nil), e2 = Out.sse(1, "message", #"{"e":2}"#, nil)
        let reqs: [Out] = [.req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"), .req(1, "GET", "/s")]
        for p in 0..<stream.count {
            let steps: [Step] = [up(post("{}") + "GET /s HTTP/1.1\r\n\r\n"),
                                 down(Array(stream[..<p])), .gap(.toClient, 1), down(Array(stream[(p + 1)...])),
                                 .end(.toClient)]
            let r = runAllSplits(steps)
            let got = Array(summarize(r.outputs).dropFirst(3))
            #expect(Array(summarize(r.outputs).prefix(3)) == reqs)
            let expected: [Out]
            switch p {
            case ..<r1Head:
                // First response head lost: resync finds the second one, which now answers request 0.
                expected = [.resp(0, 200, "POST"), .sse(0, "message", #"{"e":1}"#, nil), .sse(0, "message", #"{"e":2}"#, nil)]
            case r1Head..<sseStart:
                expected = [.resp(0, 200, "POST"), .resp(1, 200, "GET"), e1, e2]   // body damaged, not delivered
            case sseStart..<(sseStart + sseHead.utf8.count):
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#)]  // stream head lost
            case c1Data..<c1DataEnd:
                // Event 1 is damaged. After a gap the parser cannot know whether the lost byte was
                // part of the blank line, so it skips to the next blank line it sees itself: when the
                // gap hits event 1's final CRLF/LF, that next blank line is event 2's end, and event 2
                // goes too. A lone final LF lost still leaves "\r\n\r": the CR already dispatched.
                let events: [Out]
                switch p {
                case c1DataEnd - 1: events = [e1]
                case c1DataEnd - 3, c1DataEnd - 2: events = []
                default: events = [e2]
                }
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET")] + events
            case c2Data..<c2DataEnd:
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET"), e1]
                    + (p == c2DataEnd - 1 ? [e2] : [])
            case c1DataEnd..<c2Start:
                // The CRLF after chunk 1: chunk resync finds chunk 2's size line, nothing is lost.
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET"), e1, e2]
            case c2Start..<c2Data:
                // Chunk 2's size line damaged: its event cannot be framed, the stream still ends cleanly.
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET"), e1]
            case (c1Data - 4)..<c1Data:
                // Chunk 1's size line damaged: resync picks up chunk 2.
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET"), e2]
            default:
                // The final chunk: everything was delivered already.
                expected = [.resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#), .resp(1, 200, "GET"), e1, e2]
            }
            #expect(got == expected, "gap at \(p) (byte \(stream[p]))")
            #expect(r.counters["http.gap"] == 1)
        }
    }

    @Test func gapsInsideBodiesAreConsumedByCount() {
        let body = #"{"jsonrpc":"2.0","id":3,"result":{"ok":true}}"#
        let wire = bytes(post(body))
        let bodyStart = wire.count - body.utf8.count
        // A 10-byte gap in the body, then the next request is intact.
        let steps: [Step] = [up(Array(wire[..<(bodyStart + 5)])), .gap(.toServer, 10), up(Array(wire[(bodyStart + 15)...])),
                             up(post("[]"))]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.req(0, "POST", "/mcp"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "[]")])
        #expect(r.counters["http.body_damaged"] == 1)
        // A gap that runs past the end of the body loses the framing: resync.
        let steps2: [Step] = [up(Array(wire[..<(bodyStart + 5)])), .gap(.toServer, body.utf8.count + 3), up("ST /x HTTP/1.1\r\n\r\n"),
                              up(post("[]"))]
        let r2 = runAllSplits(steps2)
        #expect(summarize(r2.outputs) == [.req(0, "POST", "/mcp"), .req(1, "POST", "/mcp"), .body(.toServer, 1, "[]")])
    }

    @Test func gapInUntilCloseSSEStreamDropsOnlyTheDamagedEvent() {
        let steps: [Step] = [
            down("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: one\n\ndata: t"),
            .gap(.toClient, 100),
            down("wo\ndata: still two\n\ndata: three\n\n"),
            .end(.toClient),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.resp(0, 200, nil), .sse(0, "message", "one", nil), .sse(0, "message", "three", nil)])
    }
}

@Suite("HTTP connections joined mid-stream")
struct HTTPMidStreamTests {
    @Test func gapFirstThenTheTailOfABodyThenAResponse() {
        let steps: [Step] = [
            .gap(.toClient, 1000),
            down("lo world\"}]}}HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"),
        ]
        let r = runAllSplits(steps)
        #expect(r.isHTTP == true)
        #expect(summarize(r.outputs) == [.resp(0, 200, nil), .body(.toClient, 0, "{}")])
    }

    @Test func gapFirstThenNothingHTTPGivesUpAfterTheBound() {
        var limits = HTTPLimits()
        limits.maxUndecidedBytes = 1000
        let junk = [UInt8](repeating: 0x41, count: 600)
        let r = runAllSplits([.gap(.toServer, 10), up(junk), up(junk), up(post("{}"))], limits: limits)
        #expect(r.isHTTP == false)
        #expect(r.outputs.isEmpty)
    }
}

@Suite("HTTP resynchronisation")
struct HTTPResyncTests {
    @Test func gapAlignedWithAMessageBoundaryLosesOnlyThatMessage() {
        let steps: [Step] = [up(post("{}")), .gap(.toServer, 120), up(post("[1]") + post("[2]")),
                             down(jsonResponse("{}")), .gap(.toClient, 80), down(jsonResponse("[3]"))]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, "[1]"), .req(2, "POST", "/mcp"), .body(.toServer, 2, "[2]"),
            .resp(0, 200, "POST"), .body(.toClient, 0, "{}"), .resp(1, 200, "POST"), .body(.toClient, 1, "[3]"),
        ])
    }

    @Test func cutMethodIsNotARequestButAGluedOneIs() {
        // After a gap "ST /x HTTP/1.1" is the tail of a request line: skipped. A request glued to
        // garbage mid-line is found when its method is a registered one.
        let steps: [Step] = [up(post("{}")), .gap(.toServer, 5), up("ST /x HTTP/1.1\r\nhost: x\r\n\r\n"),
                             up("junk}FOO /y HTTP/1.1\r\n\r\njunk}GET /z HTTP/1.1\r\n\r\n")]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"), .req(1, "GET", "/z")])
    }
}

@Suite("HTTP details")
struct HTTPDetailTests {
    @Test(arguments: [("deflate", Int32(15)), ("deflate", -15), ("gzip", 31)])
    func smallCompressedBodiesByteByByte(encoding: String, windowBits: Int32) {
        let payload = #"{"jsonrpc":"2.0","id":9,"result":{"tools":[]}}"#
        let z = compress(bytes(payload), windowBits: windowBits)
        let r = runAllSplits([up(bytes("POST /mcp HTTP/1.1\r\ncontent-type: application/json\r\ncontent-encoding: \(encoding)\r\n"
                                       + "content-length: \(z.count)\r\n\r\n") + z)])
        #expect(summarize(r.outputs) == [.req(0, "POST", "/mcp"), .body(.toServer, 0, payload)])
    }

    @Test func transferCodingsOtherThanChunkedAreNotDecoded() {
        let steps: [Step] = [
            up("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"),
            down("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
            down("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: gzip\r\n\r\nxyz"),
            .end(.toClient),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.req(0, "GET", "/a"), .req(1, "GET", "/b"), .resp(0, 200, "GET"), .resp(1, 200, "GET")])
        #expect(r.counters["http.unsupported_transfer_coding"] == 2)
    }

    @Test func headersAPI() {
        let h = headers([("Content-Type", "application/json"), ("X-A", "1"), ("x-a", "2"), ("Mcp-Session-Id", "s")])
        #expect(h["content-type"] == "application/json")
        #expect(h["X-a"] == "1")
        #expect(h.values("X-A") == ["1", "2"])
        #expect(h.values("missing") == [])
        #expect(h["mcp-session-id"] == "s")
        #expect(h["mcp-session-i"] == nil)
    }

    @Test func truncatedMessagesAreCountedNotReported() {
        let r = runAllSplits([up("POST /mcp HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{\"a\""),
                              .end(.toServer), down("HTTP/1.1 200 OK\r\ncontent-"), .end(.toClient)])
        #expect(summarize(r.outputs) == [.req(0, "POST", "/mcp")])
        #expect(r.counters["http.truncated_message"] == 2)
    }
}

@Suite("HTTP mutation fuzzing")
struct HTTPMutationTests {
    /// Real-looking traffic with random byte flips, insertions, deletions and gaps: no trap, and
    /// the same outputs however the bytes are cut.
    @Test func mutatedTrafficIsDeterministic() {
        let sse = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
            + "20\r\nevent: message\r\ndata: {\"id\":1}\r\n\r\n\r\n8\r\n: ping\r\n\r\n0\r\n\r\n"
        let z = compress(bytes(#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#), windowBits: 31)
        let gz = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: \(z.count)\r\n\r\n") + z
        let request = bytes(post(#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#) + "GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n")
        let response = bytes(sse) + gz + bytes("HTTP/1.1 101 Switching Protocols\r\n\r\n") + [0x81, 0x00]
        var rng = SplitMix64(seed: 2026)
        for _ in 0..<300 {
            var up = request, down = response
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let target = Bool.random(using: &rng)
                var buf = target ? up : down
                let at = Int.random(in: 0..<buf.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: buf[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: buf.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                default: buf.remove(at: at)
                }
                if target { up = buf } else { down = buf }
            }
            let cutUp = Int.random(in: 0...up.count, using: &rng), cutDown = Int.random(in: 0...down.count, using: &rng)
            runAllSplits([.send(.toServer, Array(up[..<cutUp])), .gap(.toServer, Int.random(in: 0...3, using: &rng)),
                          .send(.toServer, Array(up[cutUp...])),
                          .send(.toClient, Array(down[..<cutDown])), .gap(.toClient, Int.random(in: 0...40, using: &rng)),
                          .send(.toClient, Array(down[cutDown...])), .end(.toServer), .end(.toClient)])
        }
    }
}

@Suite("Long-lived SSE streams")
struct SSEStreamGapTests {
    /// The Python SDK's GET stream: one event per chunk, CRLF, pings. A lost segment spanning the
    /// end of chunk 3 to the middle of chunk 5 costs events 3 to 5 only.
    @Test func streamSurvivesAGapAcrossChunks() {
        let events = (1...10).map { "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{\"n\":\($0)}}\r\n\r\n" }
        var wire = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n")
        var chunkStarts: [Int] = []
        for (k, e) in events.enumerated() {
            chunkStarts.append(wire.count)
            wire += bytes(String(e.utf8.count, radix: 16) + "\r\n" + e + "\r\n")
            if k == 6 { wire += bytes("a\r\n: ping\r\n\r\n\r\n") }
        }
        let gapStart = chunkStarts[2] + 30, gapEnd = chunkStarts[4] + 40
        let steps: [Step] = [up("GET /mcp HTTP/1.1\r\naccept: text/event-stream\r\n\r\n"),
                             down(Array(wire[..<gapStart])), .gap(.toClient, gapEnd - gapStart), down(Array(wire[gapEnd...])),
                             down("0\r\n\r\n" + "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")]
        let r = runAllSplits(steps)
        let delivered = [1, 2, 6, 7, 8, 9, 10].map { n in
            Out.sse(0, "message", #"{"jsonrpc":"2.0","method":"notifications/message","params":{"n":\#(n)}}"#, nil)
        }
        #expect(summarize(r.outputs) == [.req(0, "GET", "/mcp"), .resp(0, 200, "GET")] + delivered + [.resp(1, 200, nil), .body(.toClient, 1, "{}")])
        #expect(r.counters["http.chunk_resynced"] == 1)
    }

    @Test func chunkResyncHandsOverToANewResponse() {
        // The gap swallows the end of the stream; the next line that parses is a status line.
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        let ev = "data: {\"a\":1}\r\n\r\n"
        let chunk1 = String(ev.utf8.count, radix: 16) + "\r\n" + ev + "\r\n"
        let steps: [Step] = [down(head + chunk1 + "13\r\ndata: {\"b"), .gap(.toClient, 30),
                             down("xx\r\nHTTP/1.1 204 No Content\r\n\r\n")]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.resp(0, 200, nil), .sse(0, "message", #"{"a":1}"#, nil), .resp(1, 204, nil)])
    }
}
