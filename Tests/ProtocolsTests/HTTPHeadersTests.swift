import SonarCore
import Testing
@testable import SonarProtocols

/// The request head of `text` fed to a fresh parser in one delivery.
private func requestHead(_ text: [UInt8]) -> HTTPRequestHead? {
    let parser = HTTPConnectionParser()
    var head: HTTPRequestHead?
    text.withUnsafeBytes { bytes in
        parser.feed(bytes, direction: .toServer) { output in
            if case .requestHead(let c) = output, head == nil { head = c.request }
        }
    }
    return head
}

/// Fields parsed from a head answer as the same fields built by hand: names as sent, folded values
/// joined with one space, duplicates in order, lookups without ASCII case.
@Test func parsedFieldsAnswerAsFieldsBuiltByHand() throws {
    let head = try #require(requestHead(Array(
        ("POST /mcp HTTP/1.1\r\nHost:  h:1 \r\nX-Folded: first\r\n   second\r\n\tthird\r\nX-Empty:\r\n \r\n\tlate\r\n"
         + "X-Blank:   \r\nAccept: a\r\naccept: b\r\nContent-Length: 0\r\n\r\n").utf8)))
    let h = head.headers
    let expected = HTTPHeaders([(name: "Host", value: "h:1"), (name: "X-Folded", value: "first second third"),
                                (name: "X-Empty", value: "late"), (name: "X-Blank", value: ""),
                                (name: "Accept", value: "a"), (name: "accept", value: "b"),
                                (name: "Content-Length", value: "0")])
    #expect(h == expected)
    #expect(h.entries == expected.entries)
    #expect(h.fieldCount == 7)
    #expect(h["x-FOLDED"] == "first second third")
    #expect(h["x-blank"] == "")
    #expect(h["x-missing"] == nil)
    #expect(h.contains("ACCEPT") && !h.contains("accep") && !h.contains("accept "))
    #expect(h.count("Accept") == 2 && h.values("ACCEPT") == ["a", "b"])
    #expect(h.withValue("host") { Array($0) } == Array("h:1".utf8))
    #expect(h.withValue("nope") { _ in true } == nil)
    var seen: [String] = []
    h.forEachField { n, v in seen.append(String(decoding: n, as: UTF8.self) + "=" + String(decoding: v, as: UTF8.self)) }
    #expect(seen == ["Host=h:1", "X-Folded=first second third", "X-Empty=late", "X-Blank=", "Accept=a", "accept=b",
                     "Content-Length=0"])
    // Equality is by bytes, name spelling included.
    #expect(h != HTTPHeaders(expected.entries.map { (name: $0.name.lowercased(), value: $0.value) }))
    #expect(h != HTTPHeaders(expected.entries.dropLast().map { (name: $0.name, value: $0.value) }))
}

/// Only ASCII letters fold: a byte outside A–Z never matches another byte.
@Test func headerNamesFoldOnlyASCIILetters() {
    let h = HTTPHeaders([(name: "X-A@", value: "1"), (name: "X-[", value: "2")])
    #expect(h["x-a@"] == "1" && h["X-A`"] == nil)
    #expect(h["x-["] == "2" && h["x-{"] == nil)
}

/// A value that is not UTF-8 is kept as sent and repaired only when read as a String.
@Test func invalidUTF8ValuesAreKeptAsSent() throws {
    var text = Array("GET / HTTP/1.1\r\nX-Raw: a".utf8)
    text += [0xFF, 0xC3]
    text += Array("b\r\n\r\n".utf8)
    let head = try #require(requestHead(text))
    #expect(head.headers["x-raw"] == "a\u{FFFD}\u{FFFD}b")
    #expect(head.headers.withValue("x-raw") { Array($0) } == [0x61, 0xFF, 0xC3, 0x62])
    #expect(head.headers != HTTPHeaders([(name: "X-Raw", value: "a\u{FFFD}\u{FFFD}b")]))
}

/// A head read from a large delivery keeps a buffer of about its own size, not the delivery's
/// reserve: up to `maxPendingRequests` heads wait on a connection.
@Test func aHeadFromALargeDeliveryHoldsOnlyItsOwnBytes() throws {
    let body = [UInt8](repeating: 0x61, count: 60_000)
    let small = Array("POST /x HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 60000\r\n\r\n".utf8)
    let head = try #require(requestHead(small + body))
    #expect(head.headers["content-length"] == "60000")
    #expect(head.headers.storageCapacity < 2048, "kept \(head.headers.storageCapacity) bytes")
    // A head alone in its delivery keeps the buffer it was read into.
    let alone = try #require(requestHead(small))
    #expect(alone.headers.storageCapacity < 2048)
}

/// The bits of `isTokenChar` are RFC 9110's tchar: DIGIT, ALPHA and ``!#$%&'*+-.^_`|~``, no other
/// byte value.
@Test func tokenCharsAgreeWithRFC9110() {
    let tchar = Set(Array("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!#$%&'*+-.^_`|~".utf8))
    for b in 0...255 {
        #expect(isTokenChar(UInt8(b)) == tchar.contains(UInt8(b)), "byte \(b)")
    }
}

/// The request head of `text` fed to a fresh parser in one delivery, and the bad header lines
/// it reported.
private func requestHeadAndBadLines(_ text: [UInt8]) -> (HTTPRequestHead?, Int) {
    let parser = HTTPConnectionParser()
    var head: HTTPRequestHead?
    var anomalies = 0
    text.withUnsafeBytes { bytes in
        parser.feed(bytes, direction: .toServer) { output in
            switch output {
            case .requestHead(let c): head = c.request
            case .anomaly(_, let name) where name == "http.bad_header_line": anomalies += 1
            default: break
            }
        }
    }
    return (head, anomalies)
}

/// A field name is the token characters before the colon: every tchar is accepted, and a line
/// whose name is empty, holds any other byte, or has no colon is a bad line and no field.
@Test func fieldNamesAreTokensUpToTheColon() throws {
    var text = Array("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: ok\r\n: empty\r\nX(y): paren\r\nX y: space\r\n".utf8)
    text += Array("X".utf8) + [0xC3, 0xA9] + Array(": utf8\r\nNoColon\r\nX-Last:v:w\r\n\r\n".utf8)
    let (head, anomalies) = requestHeadAndBadLines(text)
    let h = try #require(head).headers
    #expect(h.entries.map(\.name) == ["!#$%&'*+-.^_`|~09azAZ", "X-Last"])
    #expect(h["x-last"] == "v:w")
    #expect(anomalies == 5)
}

/// Names long enough to be read eight bytes at a time get the verdict of the byte-by-byte
/// reading: a name of letters, digits and '-' with one other byte at each of its first 24
/// places (and a '-' before it) is a field when that byte is a tchar, else a bad line.
@Test func longFieldNamesAreTokensWhereverTheOddByteIs() throws {
    let tchar = Set(Array("!#$%&'*+-.^_`|~".utf8))
    for odd in Array(",.-_!~(){}\"/ \t@;=?[]".utf8) + [0x00, 0x7F, 0x80, 0xC3] {
        for place in 0..<24 {
            var name = Array("Mcp-Protocol-Version-Xy-9".utf8)
            name[place] = odd
            if place > 0 { name[place - 1] = UInt8(ascii: "-") }
            let text = Array("GET / HTTP/1.1\r\n".utf8) + name + Array(": v\r\nHost: h\r\n\r\n".utf8)
            let (head, anomalies) = requestHeadAndBadLines(text)
            let isToken = tchar.contains(odd) || (odd >= 0x30 && odd <= 0x39) || ((odd | 0x20) >= 0x61 && (odd | 0x20) <= 0x7A)
            let fields = try #require(head, "\(odd) \(place)").headers.entries.map(\.name)
            #expect(fields == (isToken ? [String(decoding: name, as: UTF8.self), "Host"] : ["Host"]), "\(odd) \(place)")
            #expect(anomalies == (isToken ? 0 : 1), "\(odd) \(place)")
        }
    }
}

/// A start line read whole (`acceptsWhole`) gets the verdict of the same bytes fed to the
/// byte-by-byte validator and finished: valid request and status lines, every byte value at
/// every place of them, each cut short at every length and run on with a byte, for requests
/// with and without the known-method requirement.
@Test func wholeLineAgreesWithFeed() {
    let requests = ["GET /mcp HTTP/1.1", "POST /mcp HTTP/1.1\r", "M-SEARCH * HTTP/1.0", "PATCH /a?b=c&d HTTP/1.9\r",
                    "CONNECT example.net:443 HTTP/1.1", "GETTOOLONGMETHODNAMEXXXXXXXXXXXX / HTTP/1.1",
                    "GETTOOLONGMETHODNAMEXXXXXXXXXXXXY / HTTP/1.1", "OPTIONS * HTTP/1.1"]
    let statuses = ["HTTP/1.1 200 OK", "HTTP/1.1 200 OK\r", "HTTP/1.0 404", "HTTP/1.1 101\r", "HTTP/1.1 500 Internal Error\r",
                    "HTTP/1.1 204 ", "HTTP/1.1 200 a\rb"]
    var lines: [(Bool, [UInt8])] = []
    for (isRequest, texts) in [(true, requests), (false, statuses)] {
        for text in texts {
            let base = Array(text.utf8)
            lines.append((isRequest, base))
            for place in 0..<base.count {
                lines.append((isRequest, Array(base[..<place])))
                for value in 0...255 {
                    var changed = base
                    changed[place] = UInt8(value)
                    lines.append((isRequest, changed))
                }
            }
            for value in [0, 9, 13, 32, 48, 65, 127, 200] { lines.append((isRequest, base + [UInt8(value)])) }
        }
    }
    var accepted = 0, compared = 0
    for (isRequest, line) in lines {
        for knownOnly in isRequest ? [false, true] : [false] {
            var fed = StartLineValidator(direction: isRequest ? .toServer : .toClient)
            fed.requireKnownMethod = knownOnly
            let whole = fed
            #expect(whole.isFresh)
            let expected = line.withUnsafeBytes { fed.feed($0) == nil } && fed.finish()
            let got = line.withUnsafeBytes { whole.acceptsWhole($0) }
            #expect(got == expected, "\(isRequest ? "request" : "status") \(knownOnly) \(line)")
            if expected { accepted += 1 }
            compared += 1
        }
    }
    // Both verdicts are well represented.
    #expect(accepted > 1000 && compared - accepted > 10_000)
}
