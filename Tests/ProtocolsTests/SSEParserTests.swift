import Testing
@testable import SonarProtocols

/// Feeds `input` to a fresh SSE parser in pieces chosen by `split`, then ends the stream.
private func parse(_ input: [UInt8], maxEventBytes: Int, split: Split) -> ([SSEEvent], [String]) {
    var p = SSEParser(maxEventBytes: maxEventBytes)
    var events: [SSEEvent] = []
    var anomalies: [String] = []
    var rng = SplitMix64(seed: { if case .random(let s) = split { return s } else { return 0 } }())
    var i = 0
    while i < input.count {
        let len: Int
        switch split {
        case .whole: len = input.count
        case .bytes: len = 1
        case .random: len = Int.random(in: 0...9, using: &rng)
        }
        let end = min(input.count, i + len)
        input[i..<end].withUnsafeBytes { p.feed($0, onEvent: { events.append($0) }, onAnomaly: { anomalies.append($0) }) }
        i = end
    }
    p.end()
    return (events, anomalies)
}

/// Parses with every split, expecting the same events and anomalies each time.
private func sse(_ text: String, maxEventBytes: Int = 1 << 20,
                 sourceLocation: SourceLocation = #_sourceLocation) -> ([SSEEvent], [String]) {
    sse(Array(text.utf8), maxEventBytes: maxEventBytes, sourceLocation: sourceLocation)
}

private func sse(_ input: [UInt8], maxEventBytes: Int = 1 << 20,
                 sourceLocation: SourceLocation = #_sourceLocation) -> ([SSEEvent], [String]) {
    let whole = parse(input, maxEventBytes: maxEventBytes, split: .whole)
    for s in [Split.bytes, .random(7), .random(99), .random(12345)] {
        let r = parse(input, maxEventBytes: maxEventBytes, split: s)
        #expect(r.0 == whole.0 && r.1 == whole.1, "\(s) differs", sourceLocation: sourceLocation)
    }
    return whole
}

private func ev(_ data: String, event: String = "message", id: String? = nil, retry: Int? = nil) -> SSEEvent {
    SSEEvent(event: event, data: Array(data.utf8), id: id, retry: retry)
}

@Suite("SSE parser")
struct SSEParserTests {
    @Test func pythonSDKStyleCRLFWithPing() {
        let (events, anomalies) = sse(
            ": ping - 2025-11-25 10:00:00\r\n\r\n"
            + "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\n"
            + ": ping\r\n\r\n")
        #expect(events == [ev(#"{"jsonrpc":"2.0","id":1,"result":{}}"#)])
        #expect(anomalies.isEmpty)
    }

    @Test func typeScriptStyleLFWithIDs() {
        let (events, _) = sse("event: message\nid: 42\ndata: {\"a\":1}\n\nevent: message\nid: 43\ndata: {\"b\":2}\n\n")
        #expect(events == [ev(#"{"a":1}"#, id: "42"), ev(#"{"b":2}"#, id: "43")])
    }

    /// Line ends are found eight bytes at a time: a CR, LF or CRLF at every place of lines up
    /// to 24 bytes, with bytes either side that are neither (tab, CR+1, LF+1, high bytes), ends
    /// the line there, whole or split anywhere.
    @Test func lineEndsFoundAtEveryPlaceOfAWord() {
        for length in 0...24 {
            for end in ["\n", "\r", "\r\n"] {
                for filler in ["x", "\t", "\u{0B}", "\u{0E}", "é"] {
                    let value = String(repeating: filler, count: length)
                    let (events, anomalies) = sse("data:" + value + end + end + "data:z" + end + end)
                    #expect(events == [ev(value), ev("z")], "\(length) \(end.debugDescription) \(filler.debugDescription)")
                    #expect(anomalies.isEmpty)
                }
            }
        }
        var scratch = Array("0123456789abcdefghijklmn".utf8)
        for at in 0..<scratch.count {
            for b: UInt8 in [10, 13] {
                let saved = scratch[at]
                scratch[at] = b
                scratch.withUnsafeBytes { #expect(SSEParser.lineEnd($0, from: 0) == at) }
                scratch[at] = saved
            }
        }
        scratch.withUnsafeBytes { #expect(SSEParser.lineEnd($0, from: 3) == scratch.count) }
    }

    @Test func crOnlyLineEndsAndMixedEnds() {
        let (events, _) = sse("data: a\rdata: b\r\rdata: c\r\n\ndata: d\n\r")
        #expect(events == [ev("a\nb"), ev("c"), ev("d")])
    }

    @Test func crAtEndOfFeedThenLFIsOneLineEnd() {
        // "data: x\r" | "\n" | "\r\n": if the split CRLF counted twice the event would dispatch early.
        var p = SSEParser()
        var events: [SSEEvent] = []
        for piece in ["data: x\r", "\n", "data: y\r", "\ndata: z\r", "\n\r", "\n"] {
            Array(piece.utf8).withUnsafeBytes { p.feed($0, onEvent: { events.append($0) }, onAnomaly: { _ in }) }
        }
        #expect(events == [ev("x\ny\nz")])
    }

    @Test func multipleDataLinesJoinedWithLF() {
        let (events, _) = sse("data: first\ndata:second\ndata:  third\ndata\n\n")
        // Only one space after the colon is stripped; "data" alone adds an empty line.
        #expect(events == [ev("first\nsecond\n third\n")])
    }

    @Test func primingEventWithIDAndEmptyDataIsEmitted() {
        // MCP 2025-11-25: the server primes a stream with an id and empty data (deviation: emitted).
        let (events, _) = sse("id: 0\ndata:\nretry: 3000\n\nid: evt-1\n\n")
        #expect(events == [ev("", id: "0", retry: 3000), ev("", id: "evt-1")])
    }

    @Test func eventOnlyBlockIsEmittedRetryOnlyIsNot() {
        let (events, _) = sse("retry: 10\n\n: only a comment\n\nevent: endpoint\n\n")
        #expect(events == [ev("", event: "endpoint")])
    }

    @Test func legacyEndpointEvent() {
        let (events, _) = sse("event: endpoint\r\ndata: /messages/?session_id=9f3c0a0e6f2d4b8d8a1e2b3c4d5e6f70\r\n\r\n")
        #expect(events == [ev("/messages/?session_id=9f3c0a0e6f2d4b8d8a1e2b3c4d5e6f70", event: "endpoint")])
    }

    @Test func fieldsWithoutColonUnknownFieldsAndBadValues() {
        let (events, _) = sse("event\ndata: x\nfoo: bar\nretry: 12a\nid: a\u{0}b\n\nevent:\ndata: y\n\n")
        // "event" with no colon is the event field with an empty value → "message".
        // retry with a non-digit and an id containing NUL are ignored.
        #expect(events == [ev("x"), ev("y")])
    }

    @Test func bomSkippedOnlyAtStreamStart() {
        let (events, _) = sse([0xEF, 0xBB, 0xBF] + Array("data: a\n\ndata: ".utf8) + [0xEF, 0xBB, 0xBF] + Array("b\n\n".utf8))
        #expect(events == [ev("a"), SSEEvent(data: [0xEF, 0xBB, 0xBF, 0x62])])
        // A partial BOM is ordinary content.
        let (events2, _) = sse([0xEF, 0xBB] + Array("data: c\n\n".utf8))
        #expect(events2.isEmpty)  // the field name is "\u{EF}\u{BB}data", unknown
        let (events3, _) = sse([0xEF] + Array(": comment\ndata: d\n\n".utf8))
        #expect(events3 == [ev("d")])  // "\u{EF}: comment" is an unknown field named "\u{EF}"

    }

    @Test func incompleteEventAtEndIsDiscarded() {
        let (events, _) = sse("data: complete\n\ndata: incomplete\n")
        #expect(events == [ev("complete")])
    }

    @Test func oversizedEventDroppedUntilBlankLine() {
        let big = String(repeating: "x", count: 200)
        let (events, anomalies) = sse("data: ok\n\ndata: \(big)\ndata: more\n\ndata: after\n\n", maxEventBytes: 100)
        #expect(events == [ev("ok"), ev("after")])
        #expect(anomalies == ["sse.event_too_large"])
        // Oversized across many data lines, each small.
        let lines = String(repeating: "data: 0123456789\n", count: 20)
        let (events2, anomalies2) = sse("\(lines)\nid: 5\ndata: next\n\n", maxEventBytes: 100)
        #expect(events2 == [ev("next", id: "5")])
        #expect(anomalies2 == ["sse.event_too_large"])
    }

    @Test func gapDropsCurrentEventAndResumesAfterBlankLine() {
        var p = SSEParser()
        var events: [SSEEvent] = []
        let feed = { (s: String) in
            Array(s.utf8).withUnsafeBytes { p.feed($0, onEvent: { events.append($0) }, onAnomaly: { _ in }) }
        }
        feed("data: one\n\ndata: tw")
        p.gap()
        feed("o still\ndata: more\n\ndata: three\n\n")
        #expect(events == [ev("one"), ev("three")])
    }
}
