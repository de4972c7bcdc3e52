import Foundation
import Testing
import SonarCore
@testable import SonarOutput
import SonarDetect
@testable import SonarMCP

@Test func timestampsAreISO8601WithMicroseconds() {
    #expect(Timestamp(microseconds: 0).iso8601 == "1970-01-01T00:00:00.000000+0000")
    // 2026-11-24T15:47:09.123456Z
    #expect(Timestamp(seconds: 1_795_535_229, microseconds: 123_456).iso8601 == "2026-11-24T15:47:09.123456+0000")
    // leap day and end of year
    #expect(Timestamp(seconds: 951_782_400, microseconds: 1).iso8601 == "2000-02-29T00:00:00.000001+0000")
    #expect(Timestamp(seconds: 1_735_689_599, microseconds: 999_999).iso8601 == "2024-12-31T23:59:59.999999+0000")
    #expect(Timestamp(microseconds: -1).iso8601 == "1969-12-31T23:59:59.999999+0000")
}

@Test func writerNestsAndSeparates() {
    var w = JSONWriter()
    w.beginObject()
    w.field("a", "x")
    w.field("n", 3)
    w.key("o"); w.beginObject(); w.field("b", true); w.key("arr"); w.beginArray(); w.int(1); w.string("two"); w.null(); w.endArray(); w.endObject()
    w.key("ms"); w.milliseconds(microseconds: 1_234_567)
    w.key("ms0"); w.milliseconds(microseconds: 5)
    w.field("absent", nil as String?)
    w.endObject()
    #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":"x","n":3,"o":{"b":true,"arr":[1,"two",null]},"ms":1234.567,"ms0":0.005}"#)
}

/// A digest is written as its 64 hex digits in quotes, separated like any value; nil writes nothing.
@Test func writerWritesDigestsAsHex() {
    let bytes = (0..<32).map { UInt8($0 * 7 + 1) }
    let digest = bytes.withUnsafeBytes { SHA256Value($0) }
    var w = JSONWriter(capacity: 64) // grows for it: the digest alone is 66 bytes
    w.beginObject()
    w.field("a", 1)
    w.field("params_sha256", digest)
    w.field("none", nil as SHA256Value?)
    w.field("b", 2)
    w.endObject()
    let hex = bytes.map { String(format: "%02x", $0) }.joined()
    #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":1,"params_sha256":""# + hex + #"","b":2}"#)
    #expect(digest.hex == hex)
}

/// Times are written from a memo of the last two seconds' text: repeats, alternation and
/// rotation among seconds, either side of 1970 and at the ends of a second, all give `iso8601`.
@Test func writerTimesMatchTheirISO8601Text() {
    let seconds: [Int64] = [-86_401, -1, 0, 1, 59, 60, 86_399, 86_400, 1_795_535_229, 1_795_535_230, 253_402_300_799]
    var w = JSONWriter()
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    var base = 0
    for n in 0..<6_000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        if n % 97 == 0 { base = Int(state >> 40) % seconds.count }
        // One of four seconds around `base`: the same again, the one before, or one not seen lately.
        let s = seconds[(base + Int(state >> 62)) % seconds.count]
        let micros: Int64 = switch (state >> 8) % 4 { case 0: 0; case 1: 999_999; default: Int64((state >> 12) % 1_000_000) }
        let t = Timestamp(microseconds: s * 1_000_000 + micros)
        w.reset()
        w.beginObject()
        w.field("t", time: t)
        w.endObject()
        #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"t":""# + t.iso8601 + #""}"#)
    }
}

@Test func writerEscapesEverythingThatMustBe() {
    var w = JSONWriter()
    w.beginArray()
    w.string("q\"b\\n\nr\rt\t\u{01}\u{1F} é \u{2028}\u{2029} 😀")
    w.endArray()
    #expect(String(decoding: w.bytes, as: UTF8.self) == #"["q\"b\\n\nr\rt\t\u0001\u001f é \u2028\u2029 😀"]"#)
}

/// A capture's timestamps are hostile input: they are clamped, and differences never trap.
@Test func hostileTimestampsAreClampedAndSubtractSafely() {
    let huge = Timestamp(seconds: Int64.max / 2, microseconds: 0)
    #expect(huge.microseconds == Timestamp.maxMicroseconds)
    let negative = Timestamp(seconds: Int64.min + 5, microseconds: -1)
    #expect(negative.microseconds == 0)
    #expect(Timestamp(seconds: 1, microseconds: Int64.max).microseconds == Timestamp.maxMicroseconds)
    let a = Timestamp(microseconds: Int64.min), b = Timestamp(microseconds: Int64.max)
    #expect(b.microseconds(since: a) == .max)
    #expect(a.microseconds(since: b) == .min)
    #expect(huge.iso8601 == "9999-12-31T23:59:59.999999+0000")
}

/// Endpoints are written into a stack buffer: every length of address and port.
@Test func endpointTextCoversEveryLength() {
    #expect(Endpoint(address: .v4(0), port: 0).description == "0.0.0.0:0")
    #expect(Endpoint(address: .v4(0xFFFF_FFFF), port: 65535).description == "255.255.255.255:65535")
    #expect(Endpoint(address: .v4(0x7F00_0001), port: 8000).description == "127.0.0.1:8000")
    #expect(Endpoint(address: .v4(0x0A80_0017), port: 10).description == "10.128.0.23:10")
    #expect(Endpoint(address: .v6(0, 1), port: 443).description == "[::1]:443")
    for port: UInt16 in [1, 9, 10, 99, 100, 999, 1000, 9999, 10000] {
        #expect(Endpoint(address: .v4(0x0102_0304), port: port).description == "1.2.3.4:\(Int(port))")
    }
}

/// Addresses are written two digits at a time from a table: every octet value in every place
/// of the quad reads as its decimal text.
@Test func dottedQuadsOfEveryOctet() {
    for v in UInt32(0)...255 {
        #expect(IPAddress.v4(v << 24 | v << 16 | v << 8 | v).description == "\(v).\(v).\(v).\(v)")
        let mixed = v << 24 | (255 - v) << 16 | (v / 2) << 8 | (v % 10)
        #expect(IPAddress.v4(mixed).description == "\(v).\(255 - v).\(v / 2).\(v % 10)")
    }
    #expect(DecimalDigits.pairs.utf8CodeUnitCount == 200)
}

/// Numbers are counted and written two digits at a time: every count of digits, both sides of
/// each power of ten, and the extremes of both integer types read as Swift's own text.
@Test func numbersOfEveryLength() {
    var values: [Int64] = [0, 1, -1, Int64.max, Int64.min, Int64.min + 1]
    var p: Int64 = 1
    for _ in 0..<18 {
        p *= 10
        values += [p - 1, p, p + 1, -p, -(p - 1), p + p / 2]
    }
    for v in values {
        var w = JSONWriter(capacity: 1)
        w.int(v)
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(v))
    }
    for v in [UInt64.max, UInt64.max - 1, UInt64(Int64.max) + 1, 10_000_000_000_000_000_000, 9_999_999_999_999_999_999] {
        var w = JSONWriter(capacity: 1)
        w.int(v)
        #expect(String(decoding: w.bytes, as: UTF8.self) == String(v))
    }
}

/// Containers nest past the 64 levels the writer keeps in one word: commas stay right.
@Test func writerSeparatesAtAnyDepth() {
    var w = JSONWriter(capacity: 1)
    for _ in 0..<100 { w.beginArray(); w.int(1) }
    for _ in 0..<100 { w.endArray(); w.int(2) }
    // Each inner array follows a value; each 2 follows the array just closed, except the
    // last, which is written outside any container.
    let expected = "[1" + String(repeating: ",[1", count: 99) + String(repeating: "],2", count: 99) + "]2"
    #expect(String(decoding: w.bytes, as: UTF8.self) == expected)
}

/// The escaping rule, one scalar at a time: the oracle the writer's word-at-a-time path is held to.
private func referenceQuoted(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{2028}": out += "\\u2028"
        case "\u{2029}": out += "\\u2029"
        case _ where u.value < 0x20:
            let hex = String(u.value, radix: 16)
            out += "\\u00" + (hex.count == 1 ? "0" : "") + hex
        default: out.unicodeScalars.append(u)
        }
    }
    return out + "\""
}

/// Strings read eight bytes at a time: every special byte at every offset of a long string is
/// escaped as the byte-by-byte rule says.
@Test func writerEscapesAtEveryOffset() {
    let specials: [String] = ["\"", "\\", "\n", "\u{01}", "\u{1F}", "\u{2028}", "\u{2029}", "\u{2027}", "â", "é", "😀", "\u{7F}", " "]
    for special in specials {
        for offset in 0..<20 {
            let s = String(repeating: "a", count: offset) + special + String(repeating: "b", count: 19 - offset)
            var w = JSONWriter()
            w.string(s)
            #expect(String(decoding: w.bytes, as: UTF8.self) == referenceQuoted(s), "\(offset) \(special.debugDescription)")
        }
    }
}

/// Every length up to 24 bytes, plain and with each special at each position: the last bytes of
/// a string are read as one word (its last eight, or its first and last four below eight), so
/// each length meets that path with the special inside, outside and across the overlap.
@Test func writerEscapesEveryShortLength() {
    let specials: [String] = ["\"", "\\", "\n", "\u{00}", "\u{1F}", "\u{2028}", "\u{7F}", "é"]
    for length in 0...24 {
        var cases = [String(repeating: "x", count: length)]
        for special in specials where special.utf8.count <= length {
            for at in 0...(length - special.utf8.count) {
                cases.append(String(repeating: "a", count: at) + special
                             + String(repeating: "z", count: length - at - special.utf8.count))
            }
        }
        for s in cases {
            var w = JSONWriter(capacity: 1)
            w.beginArray()
            w.string(s)
            w.string(s)
            w.endArray()
            let quoted = referenceQuoted(s)
            #expect(String(decoding: w.bytes, as: UTF8.self) == "[" + quoted + "," + quoted + "]", "\(s.debugDescription)")
        }
    }
}

/// Strings copied while they are scanned, into room reserved once: from a writer that starts with
/// one byte (so it grows inside a string, in the copying and in the escaping part), any mix of
/// plain and special characters, short (stored inline) and long, comes out as the oracle says.
@Test func writerCopiesAndEscapesGeneratedStrings() {
    let pieces: [String] = ["a", "bcdefgh", "0123456789abcdef", "\"", "\\", "\n", "\u{00}", "\u{1F}", "\u{2028}",
                            "\u{2029}", "\u{2026}", "é", "😀", "\u{7F}", " ", "/", "<", "}"]
    // A fixed sequence (Knuth's MMIX constants): the same strings on every run.
    var state: UInt64 = 7
    func next(_ bound: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int(state >> 33) % bound
    }
    for _ in 0..<2_000 {
        let strings = (0..<(1 + next(6))).map { _ in
            (0..<next(41)).map { _ in pieces[next(pieces.count)] }.joined()
        }
        var w = JSONWriter(capacity: 1)
        w.beginArray()
        for s in strings { w.string(s) }
        w.endArray()
        let expected = "[" + strings.map(referenceQuoted).joined(separator: ",") + "]"
        #expect(String(decoding: w.bytes, as: UTF8.self) == expected, "\(strings.map(\.debugDescription))")
    }
}

/// Packet times written two digits at a time answer as Foundation's Gregorian calendar in UTC,
/// over 20 000 times from 1970 to 2400, microseconds included.
@Test func timestampsMatchFoundationsCalendar() {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: "UTC")
    formatter.calendar = Calendar(identifier: .gregorian)
    formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
    var state: UInt64 = 0x1234_5678
    let span: UInt64 = 13_569_465_600 // 1970 to 2400, in seconds
    for _ in 0..<20_000 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        let seconds = Int64((state >> 11) % span)
        let micros = Int64((state >> 3) % 1_000_000)
        let expected = formatter.string(from: Date(timeIntervalSince1970: TimeInterval(seconds)))
            + "." + String(repeating: "0", count: 6 - String(micros).count) + String(micros) + "+0000"
        #expect(Timestamp(seconds: seconds, microseconds: micros).iso8601 == expected)
    }
}

/// A writer reset mid-way (inside a container, after a key, past 64 levels) writes the next line
/// as a fresh writer would, and gives back a buffer one large line grew.
@Test func aResetWriterWritesAsAFreshOne() {
    func second(_ w: inout JSONWriter) {
        w.beginObject(); w.field("c", 3); w.key("d"); w.beginArray(); w.string("e"); w.endArray(); w.endObject()
    }
    // Twice: a second top-level value shows whether the writer still thinks it is nested.
    var fresh = JSONWriter()
    second(&fresh)
    second(&fresh)
    let expected = fresh.bytes
    #expect(String(decoding: expected, as: UTF8.self) == #"{"c":3,"d":["e"]}{"c":3,"d":["e"]}"#)

    var w = JSONWriter(capacity: 64)
    w.beginObject(); w.field("a", 1); w.key("b")      // inside an object, right after a key
    for _ in 0..<70 { w.beginArray(); w.int(1) }      // deeper than the 64 levels held in one word
    w.string(String(repeating: "x", count: 5000))     // grows the buffer
    #expect(w.reservedBytes > 4096)
    w.reset(keepingAtMost: 1024)
    #expect(w.reservedBytes == 1024)
    #expect(w.withBytes { $0.count } == 0)
    second(&w)
    second(&w)
    #expect(w.bytes == expected)
    #expect(w.withBytes { Array($0) } == expected)
    w.reset()
    second(&w)
    second(&w)
    #expect(w.bytes == expected)
}

/// The public initializers of flow records and alerts hand each argument to the field of its
/// name (they delegate to the memberwise ones, whose parameters come in another order).
@Test func flowRecordAndAlertInitializersFillEachField() {
    let a = Endpoint(address: .v4(1), port: 2), b = Endpoint(address: .v4(3), port: 4)
    let r = FlowRecord(flowId: 5, client: a, server: b, transport: .udp, appProto: "ap", start: Timestamp(microseconds: 6),
                       end: Timestamp(microseconds: 7), packets: (8, 9), bytes: (10, 11), reason: "why", sni: "sni",
                       httpHost: "host", dnsName: "dns", alerted: true)
    #expect(r.flowId == 5 && r.client == a && r.server == b && r.transport == .udp && r.appProto == "ap")
    #expect(r.start == Timestamp(microseconds: 6) && r.end == Timestamp(microseconds: 7))
    #expect(r.packets == (8, 9) && r.bytes == (10, 11) && r.reason == "why")
    #expect(r.sni == "sni" && r.httpHost == "host" && r.dnsName == "dns" && r.alerted)
    let f = Finding(rule: "r", signatureId: 12, signature: "s", category: .secret, severity: 2)
    let alert = Alert(timestamp: Timestamp(microseconds: 13), flowId: 14, source: a, destination: b, transport: .udp,
                      appProto: "ap2", finding: f)
    #expect(alert.timestamp == Timestamp(microseconds: 13) && alert.flowId == 14 && alert.source == a)
    #expect(alert.destination == b && alert.transport == .udp && alert.appProto == "ap2" && alert.finding == f)
    #expect(alert.mcp == nil && alert.egressHost == nil && alert.egressVia == nil)
}

/// `ByteLanes`, which the JSON parser and writer and the SSE parser scan with: for every byte
/// value at every place of a word, with every filler before and after, the first marked byte is
/// the first byte that is the value sought (or below the bound, or not ASCII), and a word
/// without one is not marked at all.
@Test func byteLanesMarkTheFirstMatchingByteExactly() {
    for value in 0...255 {
        for filler in [0x00, 0x01, 0x1F, 0x20, 0x41, 0x7F, 0x80, 0xFF] where filler != value {
            var bytes = [UInt8](repeating: UInt8(filler), count: 8)
            let word = { bytes.withUnsafeBytes { ByteLanes.load($0.baseAddress!, 0) } }
            #expect(ByteLanes.equal(word(), UInt8(value)) == 0)
            for at in 0..<8 {
                bytes = [UInt8](repeating: UInt8(filler), count: 8)
                bytes[at] = UInt8(value)
                let x = word()
                let equal = ByteLanes.equal(x, UInt8(value))
                #expect(equal != 0 && ByteLanes.first(equal) == at, "\(value) \(filler) \(at)")
                let below = ByteLanes.below(x, 0x20)
                let expectBelow = bytes.firstIndex { $0 < 0x20 }
                #expect((below == 0 ? nil : ByteLanes.first(below)) == expectBelow, "\(value) \(filler) \(at)")
                let high = ByteLanes.high(x)
                #expect((high == 0 ? nil : ByteLanes.first(high)) == bytes.firstIndex { $0 >= 0x80 })
            }
        }
    }
}

/// `ByteLanes.simpleTokenChars` (HTTP field names, eight bytes at a time) marks exactly the
/// letters, digits and '-' of a word — every lane, not only up to the first — for every byte
/// value at every place among fillers that are and are not such characters (a '-' before a
/// byte one above it is where a borrowing test marks the wrong byte).
@Test func simpleTokenCharsMarkExactlyLettersDigitsAndDash() {
    func simple(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D
    }
    for value in 0...255 {
        for filler in [0x00, 0x2C, 0x2D, 0x2E, 0x2F, 0x3A, 0x40, 0x5B, 0x60, 0x7B, 0x41, 0x7A, 0x30, 0x39, 0xC1, 0xFF] {
            for at in 0..<8 {
                var bytes = [UInt8](repeating: UInt8(filler), count: 8)
                bytes[at] = UInt8(value)
                let marks = bytes.withUnsafeBytes { ByteLanes.simpleTokenChars(ByteLanes.load($0.baseAddress!, 0)) }
                let expected = bytes.enumerated().reduce(UInt64(0)) { $0 | (simple($1.element) ? UInt64(0x80) << (8 * $1.offset) : 0) }
                #expect(marks == expected, "\(value) \(filler) \(at)")
            }
        }
    }
}

/// The names the encoder writes as literals for the transport, the kind, the event type and the
/// protocol are the contract's: each enum case's raw value, in a line that parses as JSON.
@Test func encodedEnumNamesAreTheirRawValues() throws {
    let c = Endpoint(address: .v4(0x0A00_0001), port: 40000), s = Endpoint(address: .v4(0x7F00_0001), port: 8000)
    for transport in [MCPTransport.http, .sse, .websocket, .tcp] {
        for kind in [JSONRPCKind.request, .notification, .response, .error] {
            let e = MCPEvent(timestamp: Timestamp(microseconds: 0), flowId: 1, source: c, destination: s, appProto: "http",
                             transport: transport, kind: kind, id: .number("1"), method: "m", tool: nil, sessionId: nil,
                             protocolVersion: nil, paramsSHA256: nil, size: 1, latencyMicroseconds: nil, errorCode: nil,
                             http: nil, message: nil)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(EventEncoder.encode(e))) as? [String: Any])
            let mcp = try #require(json["mcp"] as? [String: Any])
            #expect(mcp["transport"] as? String == transport.rawValue)
            #expect(mcp["kind"] as? String == kind.rawValue)
            #expect(mcp["id"] as? Int == 1 && mcp["method"] as? String == "m")
            #expect(json["event_type"] as? String == "mcp" && json["proto"] as? String == TransportProtocol.tcp.name)
        }
    }
    for transport in [TransportProtocol.tcp, .udp] {
        let a = Alert(timestamp: Timestamp(microseconds: 0), flowId: 2, source: c, destination: s, transport: transport,
                      appProto: nil, finding: Finding(rule: "r", signatureId: 1, signature: "s", category: .method, severity: 2))
        let json = try #require(try JSONSerialization.jsonObject(with: Data(EventEncoder.encode(a))) as? [String: Any])
        #expect(json["event_type"] as? String == "alert" && json["proto"] as? String == transport.name)
    }
}
