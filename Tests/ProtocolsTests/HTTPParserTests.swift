import SonarCore
import Testing
@testable import SonarProtocols

private let initBody = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#

private func post(_ body: String, path: String = "/mcp", extra: String = "") -> String {
    "POST \(path) HTTP/1.1\r\nhost: 127.0.0.1:8000\r\naccept: application/json, text/event-stream\r\n"
        + "content-type: application/json\r\n\(extra)content-length: \(body.utf8.count)\r\n\r\n\(body)"
}

private func jsonResponse(_ body: String, status: String = "200 OK", extra: String = "") -> String {
    "HTTP/1.1 \(status)\r\ncontent-type: application/json\r\n\(extra)content-length: \(body.utf8.count)\r\n\r\n\(body)"
}

/// The response head the Python SDK (uvicorn) sends for an SSE answer.
private let pythonSSEHead = "HTTP/1.1 200 OK\r\ndate: Wed, 25 Nov 2026 10:00:00 GMT\r\nserver: uvicorn\r\n"
    + "cache-control: no-cache, no-transform\r\nconnection: keep-alive\r\ncontent-type: text/event-stream\r\n"
    + "mcp-session-id: 2b7c4e0f9a8d4c1e8f3b6a5d2e1c0b9a\r\nx-accel-buffering: no\r\ntransfer-encoding: chunked\r\n\r\n"

private func chunk(_ s: String) -> String { String(s.utf8.count, radix: 16) + "\r\n" + s + "\r\n" }

@Suite("HTTP/1.x parser")
struct HTTPParserTests {
    @Test func jsonRequestAndResponseExactOutputs() {
        let resp = #"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-11-25"}}"#
        let r = runAllSplits([up(post(initBody)), down(jsonResponse(resp, extra: "mcp-session-id: abc\r\n"))])
        let req = HTTPRequestHead(method: "POST", target: "/mcp", versionMinor: 1, headers: headers([
            ("host", "127.0.0.1:8000"), ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"), ("content-length", "\(initBody.utf8.count)"),
        ]))
        let res = HTTPResponseHead(status: 200, reason: "OK", versionMinor: 1, headers: headers([
            ("content-type", "application/json"), ("mcp-session-id", "abc"), ("content-length", "\(resp.utf8.count)"),
        ]))
        let c0 = HTTPMessageContext(exchangeIndex: 0, request: req, response: nil)
        let c1 = HTTPMessageContext(exchangeIndex: 0, request: req, response: res)
        #expect(r.outputs == [
            .requestHead(c0), .body(.toServer, c0, bytes(initBody)),
            .responseHead(c1), .body(.toClient, c1, bytes(resp)),
        ])
        #expect(r.isHTTP == true)
        #expect(r.counters.isEmpty)
    }

    /// Heads on one connection reuse the last head's equal fields: each head still reads
    /// exactly as sent (a changed value, a field moved, invalid UTF-8 repaired the same way, an
    /// obs-fold continuation).
    @Test func repeatedHeadsOnAConnectionReadExactly() {
        func head(_ fields: [UInt8]) -> [UInt8] { Array("GET /s HTTP/1.1\r\n".utf8) + fields + Array("\r\n".utf8) }
        let a = Array("host: h\r\nx-id: \u{e9}t\u{e9}\r\nx-bad: a".utf8) + [0xFF] + Array("b\r\n".utf8)
        let b = Array("host: h\r\nx-id: \u{e9}t\u{e9}!\r\nx-bad: a".utf8) + [0xFF] + Array("b\r\n".utf8)
        let c = Array("x-id: \u{e9}t\u{e9}!\r\nhost: h\r\nx-fold: one\r\n two\r\n".utf8)
        let r = runAllSplits([up(head(a)), up(head(a)), up(head(b)), up(head(c)), up(head(c))])
        let heads = r.outputs.compactMap { o -> [(String, String)]? in
            guard case .requestHead(let ctx) = o, let h = ctx.request else { return nil }
            return h.headers.entries.map { ($0.name, $0.value) }
        }
        let ha = [("host", "h"), ("x-id", "\u{e9}t\u{e9}"), ("x-bad", "a\u{FFFD}b")]
        let hb = [("host", "h"), ("x-id", "\u{e9}t\u{e9}!"), ("x-bad", "a\u{FFFD}b")]
        let hc = [("x-id", "\u{e9}t\u{e9}!"), ("host", "h"), ("x-fold", "one two")]
        #expect(heads.count == 5)
        for (got, want) in zip(heads, [ha, ha, hb, hc, hc]) {
            #expect(got.map(\.0) == want.map(\.0))
            #expect(got.map(\.1) == want.map(\.1))
        }
    }

    /// Common long fields come back as shared texts: each is read exactly as sent, and so is a
    /// field one byte, one letter's case or one byte's length away from one of them.
    @Test func commonFieldTextsReadExactly() {
        let fields: [(String, String)] = [
            ("Content-Type", "application/json"), ("Content-Type", "application/jsoN"),
            ("Accept", "application/json, text/event-stream"), ("Accept", "application/json, text/event-streams"),
            ("mcp-protocol-version", "2025-11-25"), ("Mcp-Protocol-Version", "2025-11-25"),
            ("mcp-protocol-versioN", "2025-11-25"), ("Transfer-Encoding", "identity"),
            ("x-accel-buffering", "no"), ("Cache-Control", "no-cache, no-transform"),
            ("Cache-Control", "no-cache, no-transforms"), ("Content-Encoding", "identity"),
            ("content-type", "text/event-stream; charset=utf-8"), ("content-type", "application/octet-streaM"),
        ]
        let text = fields.map { "\($0.0): \($0.1)\r\n" }.joined()
        let r = runAllSplits([up(Array("GET /s HTTP/1.1\r\n\(text)\r\n".utf8))])
        let heads = r.outputs.compactMap { o -> [(String, String)]? in
            guard case .requestHead(let ctx) = o, let h = ctx.request else { return nil }
            return h.headers.entries.map { ($0.name, $0.value) }
        }
        #expect(heads.count == 1)
        #expect(heads.first?.map(\.0) == fields.map(\.0))
        #expect(heads.first?.map(\.1) == fields.map(\.1))
    }

    @Test func pythonSDKChunkedSSEStream() {
        let result = #"{"jsonrpc":"2.0","id":1,"result":{}}"#
        let progress = #"{"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":0.5}}"#
        let steps: [Step] = [
            up(post(initBody, extra: "mcp-protocol-version: 2025-11-25\r\n")),
            down(pythonSSEHead),
            down(chunk("id: 0\r\ndata: \r\nretry: 1000\r\n\r\n")),     // 2025-11-25 priming event
            down(chunk(": ping - 2026-11-25 10:00:15.000000+00:00\r\n\r\n")),
            down(chunk("event: message\r\ndata: \(progress)\r\n\r\n")),
            // One event cut across two chunks, CR and LF in different chunks.
            down(chunk("event: message\r\ndata: {\"jsonrpc\":\"2.0\",") + chunk("\"id\":1,\"result\":{}}\r") + chunk("\n\r\n")),
            down("0\r\n\r\n"),
        ]
        let r = runAllSplits(steps)
        guard r.outputs.count == 6, case .responseHead(let ctx) = r.outputs[2] else {
            Issue.record("unexpected outputs \(summarize(r.outputs))")
            return
        }
        #expect(ctx.response?.headers["Mcp-Session-Id"] == "2b7c4e0f9a8d4c1e8f3b6a5d2e1c0b9a")
        #expect(ctx.response?.headers["TRANSFER-ENCODING"] == "chunked")
        #expect(ctx.request?.headers["MCP-Protocol-Version"] == "2025-11-25")
        #expect(r.outputs[3] == .sseEvent(ctx, SSEEvent(event: "message", data: [], id: "0", retry: 1000)))
        #expect(r.outputs[4] == .sseEvent(ctx, SSEEvent(event: "message", data: bytes(progress))))
        #expect(r.outputs[5] == .sseEvent(ctx, SSEEvent(event: "message", data: bytes(result))))
        #expect(r.counters.isEmpty)
    }

    @Test func typeScriptSDKLFOnlySSEThenKeepAlive() {
        // SSE lines with LF only; then the next request on the same connection gets JSON.
        let sseBody = "event: message\nid: a1\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n"
        let steps: [Step] = [
            up(post(initBody)),
            down("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n"
                 + chunk(sseBody) + "0\r\n\r\n"),
            up(post(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)),
            down("HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n"),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, initBody),
            .resp(0, 200, "POST"), .sse(0, "message", #"{"jsonrpc":"2.0","id":1,"result":{}}"#, "a1"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, #"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            .resp(1, 202, "POST"),
        ])
    }

    @Test func sseStreamUntilCloseIncompleteEventDiscarded() {
        // HTTP/1.0-style stream: no framing, ends with the connection; the last event is cut.
        let steps: [Step] = [
            up("GET /sse HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"),
            down("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n"
                 + "event: endpoint\r\ndata: /messages/?session_id=abc\r\n\r\nevent: message\r\ndata: {\"cut"),
            .end(.toClient),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/sse"), .resp(0, 200, "GET"), .sse(0, "endpoint", "/messages/?session_id=abc", nil),
        ])
    }

    @Test func pipelinedRequestsWithHeadAnd204And304() {
        let steps: [Step] = [
            up(post(#"{"a":1}"#) + "HEAD /mcp HTTP/1.1\r\nHost: x\r\n\r\n"
               + "DELETE /mcp HTTP/1.1\r\nHost: x\r\nmcp-session-id: s\r\n\r\n"
               + "GET /r HTTP/1.1\r\nHost: x\r\n\r\n" + post(#"{"b":2}"#)),
            down(jsonResponse(#"{"r":1}"#)
                 + "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1234\r\n\r\n"  // HEAD: no body
                 + "HTTP/1.1 204 No Content\r\n\r\n"
                 + "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
                 + jsonResponse(#"{"r":2}"#)),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, #"{"a":1}"#),
            .req(1, "HEAD", "/mcp"), .req(2, "DELETE", "/mcp"), .req(3, "GET", "/r"),
            .req(4, "POST", "/mcp"), .body(.toServer, 4, #"{"b":2}"#),
            .resp(0, 200, "POST"), .body(.toClient, 0, #"{"r":1}"#),
            .resp(1, 200, "HEAD"), .resp(2, 204, "DELETE"), .resp(3, 304, "GET"),
            .resp(4, 200, "POST"), .body(.toClient, 4, #"{"r":2}"#),
        ])
        #expect(r.counters.isEmpty)
    }

    @Test func interimResponsesDoNotConsumeTheRequest() {
        let steps: [Step] = [
            up("POST /mcp HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"),
            down("HTTP/1.1 100 Continue\r\n\r\n"),
            up(#"{"a":1}"#),
            down("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" + jsonResponse(#"{"ok":true}"#)),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .resp(0, 100, "POST"), .body(.toServer, 0, #"{"a":1}"#),
            .resp(0, 103, "POST"), .resp(0, 200, "POST"), .body(.toClient, 0, #"{"ok":true}"#),
        ])
    }

    @Test func webSocketUpgradeHandsOverTheRemainingBytes() {
        let frameFromServer: [UInt8] = [0x81, 0x02, 0x68, 0x69]
        let frameFromClient: [UInt8] = [0x81, 0x82, 1, 2, 3, 4, 0x69, 0x6B]
        let steps: [Step] = [
            up("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Protocol: mcp\r\nSec-WebSocket-Version: 13\r\n\r\n"),
            up(frameFromClient),  // sent before the 101 was seen: held, not parsed as HTTP
            down(bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: mcp\r\n\r\n") + frameFromServer),
            down(frameFromServer), up(frameFromClient), up("GET / HTTP/1.1\r\n\r\n"),  // ignored now
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.req(0, "GET", "/ws"), .resp(0, 101, "GET"), .upgrade(0, 101)])
        #expect(r.afterUpgrade == [frameFromClient + frameFromClient + bytes("GET / HTTP/1.1\r\n\r\n"),
                                   frameFromServer + frameFromServer])
        #expect(r.counters.isEmpty)
    }

    @Test func refusedUpgradeReleasesHeldRequestBytes() {
        let steps: [Step] = [
            up("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
            up(post(#"{"next":1}"#)),
            down("HTTP/1.1 400 Bad Request\r\nContent-Length: 3\r\n\r\nno!"),
            down(jsonResponse(#"{"r":1}"#)),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/ws"), .resp(0, 400, "GET"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, #"{"next":1}"#),
            .resp(1, 200, "POST"), .body(.toClient, 1, #"{"r":1}"#),
        ])
    }

    @Test func connectTunnelStopsParsing() {
        let tls: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]
        let steps: [Step] = [
            up("CONNECT mcp.example.com:443 HTTP/1.1\r\nHost: mcp.example.com:443\r\n\r\n"),
            up(tls),
            down("HTTP/1.1 200 Connection established\r\n\r\n"),
            down(tls),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [.req(0, "CONNECT", "mcp.example.com:443"), .resp(0, 200, "CONNECT"), .upgrade(0, 200)])
        #expect(r.afterUpgrade == [tls, tls])
    }

    @Test func chunkedWithExtensionsAndTrailers() {
        let body = "5;name=value\r\n{\"a\":\r\n3 ; ext\r\n1}\n\r\n0\r\nx-trailer: yes\r\nx-other: 2\r\n\r\n"
        let steps: [Step] = [
            up("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" + body),
            up(post(#"{"z":0}"#)),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{\"a\":1}\n"),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, #"{"z":0}"#),
        ])
    }

    @Test func transferEncodingWinsOverContentLength() {
        let steps: [Step] = [
            up("POST /mcp HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
               + "7\r\n{\"a\":1}\r\n0\r\n\r\n"),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/mcp"), .anomaly(.toServer, "http.te_and_cl"), .body(.toServer, 0, #"{"a":1}"#),
        ])
        #expect(r.counters["http.te_and_cl"] == 1)
    }

    /// `chunked` twice (two fields) is not chunked framing: a request is refused, a response is
    /// read until the close, each with an anomaly.
    @Test func chunkedTwiceInTwoFieldsIsRefused() {
        let request = runAllSplits([up("POST /mcp HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"
                                       + "2\r\n{}\r\n0\r\n\r\n")])
        #expect(request.counters["http.bad_transfer_encoding"] == 1)
        #expect(!summarize(request.outputs).contains(.body(.toServer, 0, "{}")))
        let response = runAllSplits([
            up("GET /sse HTTP/1.1\r\nHost: x\r\n\r\n"),
            down("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                 + "Transfer-Encoding: chunked\r\n\r\n{\"a\":1}"),
            .end(.toClient),
        ])
        #expect(response.counters["http.bad_transfer_encoding"] == 1)
        #expect(summarize(response.outputs).contains(.body(.toClient, 0, #"{"a":1}"#)))
    }

    @Test func contentLengthPolicies() {
        // Equal duplicates: accepted with an anomaly.
        let dup = runAllSplits([up("POST /a HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n{}"
                                   + "POST /b HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2, 2\r\n\r\n[]")])
        #expect(summarize(dup.outputs) == [
            .req(0, "POST", "/a"), .anomaly(.toServer, "http.duplicate_content_length"), .body(.toServer, 0, "{}"),
            .req(1, "POST", "/b"), .anomaly(.toServer, "http.duplicate_content_length"), .body(.toServer, 1, "[]"),
        ])
        // Conflicting or invalid: framing unknown, resync to the next start line.
        let cases = [("Content-Length: 2\r\nContent-Length: 3", "http.conflicting_content_length"),
                     ("Content-Length: 2, 3", "http.conflicting_content_length"),
                     ("Content-Length: -1", "http.bad_content_length"),
                     ("Content-Length: 0x10", "http.bad_content_length"),
                     ("Content-Length: 99999999999999999999", "http.bad_content_length"),
                     ("Content-Length: ", "http.bad_content_length")]
        for (bad, name) in cases {
            let r = runAllSplits([up("POST /a HTTP/1.1\r\nContent-Type: application/json\r\n\(bad)\r\n\r\n{\"x\":1}\r\n"
                                     + post(#"{"ok":1}"#))])
            #expect(summarize(r.outputs) == [
                .req(0, "POST", "/a"), .anomaly(.toServer, name), .req(1, "POST", "/mcp"), .body(.toServer, 1, #"{"ok":1}"#),
            ], "\(bad)")
            #expect(r.counters[name] == 1)
        }
    }

    @Test func responseBodyUntilCloseAndRequestWithoutFraming() {
        let steps: [Step] = [
            up("GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n"),
            down("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{\"all\":"),
            down("\"until close\"}"),
            .end(.toClient),
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "GET", "/a"), .req(1, "GET", "/b"), .resp(0, 200, "GET"), .body(.toClient, 0, #"{"all":"until close"}"#),
        ])
        guard case .requestHead(let c) = r.outputs[0] else { return }
        #expect(c.request?.versionMinor == 0)
    }

    @Test func headerSyntaxObsFoldBareLFAndCaseInsensitiveLookup() {
        let steps: [Step] = [
            up("POST /mcp HTTP/1.1\nHost: x\nX-Folded: first\n   second\n\tthird\nCONTENT-TYPE: Application/JSON\n"
               + "Accept: a\nbad line without colon\nAccept: b\nbad name: x\nContent-Length: 2\n\n{}"),
        ]
        let r = runAllSplits(steps)
        guard case .requestHead(let c) = r.outputs[2], let h = c.request?.headers else {
            Issue.record("no request head: \(summarize(r.outputs))")
            return
        }
        #expect(h["x-folded"] == "first second third")
        #expect(h["content-type"] == "Application/JSON")
        #expect(h["Accept"] == "a")
        #expect(h.values("ACCEPT") == ["a", "b"])
        #expect(h.entries.map(\.name) == ["Host", "X-Folded", "CONTENT-TYPE", "Accept", "Accept", "Content-Length"])
        #expect(summarize(r.outputs) == [
            .anomaly(.toServer, "http.bad_header_line"), .anomaly(.toServer, "http.bad_header_line"),
            .req(0, "POST", "/mcp"), .body(.toServer, 0, "{}"),
        ])
        #expect(r.counters["http.obs_fold"] == 2)
        #expect(r.counters["http.bad_header_line"] == 2)
    }

    @Test func contentTypeDecidesWhatIsBuffered() {
        let steps: [Step] = [
            up("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\n  \n{\"x\":1}"),            // no type, JSON-looking: kept
            up("POST /b HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),                       // no type, not JSON: skipped
            up("POST /c HTTP/1.1\r\nContent-Type: text/html\r\nContent-Length: 7\r\n\r\n{\"x\":1}"),  // typed non-JSON
            up("POST /d HTTP/1.1\r\nContent-Type: application/vnd.api+json\r\nContent-Length: 2\r\n\r\n[]"),
            up("POST /e HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 0\r\n\r\n"),     // empty: nothing
        ]
        let r = runAllSplits(steps)
        #expect(summarize(r.outputs) == [
            .req(0, "POST", "/a"), .body(.toServer, 0, "  \n{\"x\":1}"), .req(1, "POST", "/b"),
            .req(2, "POST", "/c"), .req(3, "POST", "/d"), .body(.toServer, 3, "[]"), .req(4, "POST", "/e"),
        ])
    }

    @Test func responseWithoutSeenRequestMidStreamPickup() {
        let r = runAllSplits([down(jsonResponse(#"{"jsonrpc":"2.0","id":7,"result":{}}"#)), up(post("{}"))])
        #expect(r.isHTTP == true)
        #expect(summarize(r.outputs) == [
            .resp(0, 200, nil), .body(.toClient, 0, #"{"jsonrpc":"2.0","id":7,"result":{}}"#),
            .req(1, "POST", "/mcp"), .body(.toServer, 1, "{}"),
        ])
    }
}

/// Content-Type sniffing: the needle (lowercase) anywhere in the value, any ASCII case, read in place.
@Test func contentTypeContainsIgnoresASCIICaseOnly() {
    #expect(asciiContainsLowercased("Application/JSON; charset=utf-8", "json"))
    #expect(asciiContainsLowercased("TEXT/EVENT-STREAM", "text/event-stream"))
    #expect(asciiContainsLowercased("x/yjso", "json") == false)
    #expect(asciiContainsLowercased("jso", "json") == false)
    #expect(asciiContainsLowercased("ends in json", "json"))
    #expect(asciiContainsLowercased("", ""))
    #expect(asciiContainsLowercased("anything", ""))
    // Only ASCII letters fold: the Kelvin sign (U+212A) is not a "k".
    #expect(asciiContainsLowercased("\u{212A}ind", "kind") == false)
    // A String built from a Substring, and one with non-ASCII text before the match.
    let tail = "xx Application/Json"
    #expect(asciiContainsLowercased(String(tail.dropFirst(3)), "application/json"))
    #expect(asciiContainsLowercased("é application/json", "application/json"))
}

/// A parser told not to hand out response heads (the engine's) gives every other output of one
/// that does, in the same order, with the same counters and upgrade bytes: final, interim (100,
/// 103), HEAD, 204, chunked, SSE and upgraded exchanges, an unanswered request, a response
/// without a request.
@Test func withoutResponseHeadsEverythingElseIsTheSame() {
    let post = { (body: String) in "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)" }
    let scenarios: [[Step]] = [
        [up(post(#"{"a":1}"#)), down("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")],
        [up(post("{}")), down("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")],
        [up("HEAD /mcp HTTP/1.1\r\nHost: x\r\n\r\n" + post("{}")), down("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")],
        [up(post("{}")), down("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n2\r\n{}\r\n0\r\n\r\n")],
        [up(post("{}")), down("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\nevent: message\ndata: {\"x\":1}\n\n"), .end(.toClient)],
        [up("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"),
         down("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\u{81}\u{02}hi")],
        [up(post("{}")), .end(.toServer)],
        [down("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")],
    ]
    var heads = 0
    for (k, steps) in scenarios.enumerated() {
        for split in [Split.whole, .bytes, .random(UInt64(k) + 7)] {
            let all = run(steps, split: split)
            let quiet = run(steps, split: split, emitsResponseHeads: false)
            let others = all.outputs.filter { if case .responseHead = $0 { return false } else { return true } }
            heads += all.outputs.count - others.count
            #expect(summarize(quiet.outputs) == summarize(others), "scenario \(k) \(split)")
            #expect(quiet.outputs == others && quiet.counters == all.counters && quiet.afterUpgrade == all.afterUpgrade,
                    "scenario \(k) \(split)")
        }
    }
    #expect(heads >= 3 * 10)
}
