import SonarCore
import Testing
@testable import SonarProtocols

// MARK: - building ClientHellos by hand

private func u16(_ v: Int) -> [UInt8] { [UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
private func u24(_ v: Int) -> [UInt8] { [UInt8((v >> 16) & 0xFF)] + u16(v) }
private func ext(_ type: Int, _ data: [UInt8]) -> [UInt8] { u16(type) + u16(data.count) + data }

private func sniExtension(_ names: [(UInt8, String)]) -> [UInt8] {
    let list = names.flatMap { [$0.0] + u16($0.1.utf8.count) + Array($0.1.utf8) }
    return ext(0, u16(list.count) + list)
}
private func alpnExtension(_ protocols: [String]) -> [UInt8] {
    let list = protocols.flatMap { [UInt8($0.utf8.count)] + Array($0.utf8) }
    return ext(16, u16(list.count) + list)
}
private func versionsExtension(_ versions: [Int]) -> [UInt8] {
    ext(43, [UInt8(versions.count * 2)] + versions.flatMap(u16))
}

/// A ClientHello handshake message (type, 24-bit length, body).
private func clientHello(version: Int = 0x0303, sessionID: [UInt8] = [UInt8](repeating: 0xAB, count: 32),
                         extensions: [[UInt8]]?) -> [UInt8] {
    var body = u16(version) + [UInt8](repeating: 0x5A, count: 32)
    body += [UInt8(sessionID.count)] + sessionID
    body += u16(6) + [0x13, 0x01, 0x13, 0x02, 0xC0, 0x2F]   // cipher suites
    body += [1, 0]                                          // compression: null
    if let extensions {
        let all = extensions.flatMap { $0 }
        body += u16(all.count) + all
    }
    return [1] + u24(body.count) + body
}

/// Wraps a handshake message into TLS records, cut after each offset in `cuts`.
private func records(_ message: [UInt8], cuts: [Int] = [], version: Int = 0x0301) -> [UInt8] {
    var out: [UInt8] = []
    var start = 0
    for end in cuts + [message.count] where end > start {
        out += [22] + u16(version) + u16(end - start) + message[start..<end]
        start = end
    }
    return out
}

private let modernExtensions: [[UInt8]] = [
    ext(0xFF01, [0]),                                            // renegotiation_info
    sniExtension([(0, "MCP.Example.com.")]),
    ext(10, u16(4) + u16(0x001D) + u16(0x0017)),                 // supported_groups
    alpnExtension(["h2", "http/1.1"]),
    versionsExtension([0x0304, 0x0303]),
    ext(51, u16(0)),                                             // key_share (empty list)
]
private let modern = TLSClientHello(serverName: "mcp.example.com", alpn: ["h2", "http/1.1"],
                                    supportedVersions: [0x0304, 0x0303], legacyVersion: 0x0303)

/// Feeds the pieces in order; returns every state returned, and the parser.
private func feed(_ pieces: [[UInt8]], limit: Int = 16384) -> ([TLSClientHelloParser.State], TLSClientHelloParser) {
    let p = TLSClientHelloParser(limit: limit)
    let states = pieces.map { piece in piece.withUnsafeBytes { p.feed($0) } }
    return (states, p)
}

// MARK: - well-formed

@Test func tlsClientHelloWhole() {
    let (states, p) = feed([records(clientHello(extensions: modernExtensions))])
    #expect(states == [.done(modern)])
    #expect(p.counters.isEmpty)
}

@Test func tlsClientHelloOneByteAtATime() {
    let bytes = records(clientHello(extensions: modernExtensions))
    let (states, _) = feed(bytes.map { [$0] })
    #expect(states == [TLSClientHelloParser.State](repeating: .needMore, count: bytes.count - 1) + [.done(modern)])
}

@Test func tlsClientHelloSplitAcrossTwoRecordsAtEveryOffset() {
    let message = clientHello(extensions: modernExtensions)
    for cut in 1..<message.count {
        let bytes = records(message, cuts: [cut])
        #expect(feed([bytes]).0 == [.done(modern)], "cut \(cut)")
        // and the TCP segments cut somewhere else
        let segment = (cut * 7) % bytes.count
        #expect(feed([Array(bytes[..<segment]), Array(bytes[segment...])]).0.last == .done(modern), "cut \(cut)")
    }
    // Every byte in its own record.
    #expect(feed([records(message, cuts: Array(1..<message.count))]).0 == [.done(modern)])
}

@Test func tlsClientHelloWithoutSNIOrExtensions() {
    let noSNI = clientHello(extensions: [alpnExtension(["mcp"]), ext(23, [])])
    #expect(feed([records(noSNI)]).0 == [.done(TLSClientHello(alpn: ["mcp"], legacyVersion: 0x0303))])

    let bare = clientHello(version: 0x0301, sessionID: [], extensions: nil)
    #expect(feed([records(bare, version: 0x0300)]).0 == [.done(TLSClientHello(legacyVersion: 0x0301))])
}

@Test func tlsServerNameTakesTheFirstHostName() {
    let hello = clientHello(extensions: [sniExtension([(1, "other"), (0, "First.test"), (0, "second.test")])])
    #expect(feed([records(hello)]).0 == [.done(TLSClientHello(serverName: "first.test", legacyVersion: 0x0303))])
    // A host name with a space or control byte is not a name.
    let odd = clientHello(extensions: [sniExtension([(0, "bad name")])])
    #expect(feed([records(odd)]).0 == [.done(TLSClientHello(legacyVersion: 0x0303))])
}

@Test func tlsBytesAfterTheHelloAreIgnoredAndTheStateStays() {
    let bytes = records(clientHello(extensions: modernExtensions)) + [20, 3, 3, 0, 1, 1] + [UInt8](repeating: 0xEE, count: 50)
    let (states, p) = feed([bytes, [0x47, 0x45, 0x54]])
    #expect(states == [.done(modern), .done(modern)])
    #expect(p.state == .done(modern))
}

// MARK: - not TLS

@Test func tlsHTTPRequestIsNotTLS() {
    let (states, p) = feed([Array("POST /mcp HTTP/1.1\r\nHost: x\r\n\r\n".utf8), records(clientHello(extensions: modernExtensions))])
    #expect(states == [.notTLS, .notTLS])
    #expect(p.counters.values == ["tls.not_handshake": 1])
}

@Test func tlsTruncatedAtEveryLengthNeedsMore() {
    let bytes = records(clientHello(extensions: modernExtensions), cuts: [40])
    for length in 0..<bytes.count {
        let (states, p) = feed([Array(bytes[..<length])])
        #expect(states == [.needMore], "length \(length)")
        #expect(p.counters.isEmpty)
    }
}

@Test func tlsOversizedLengths() {
    let message = clientHello(extensions: modernExtensions)
    // Declared handshake length above the limit: refused as soon as the length is read.
    var huge = message; huge[1] = 0x01; huge[2] = 0; huge[3] = 0   // 65536
    let (hugeStates, hugeParser) = feed([Array(records(huge).prefix(9))])
    #expect(hugeStates == [.notTLS])
    #expect(hugeParser.counters.values == ["tls.too_long": 1])
    // A smaller limit than this hello.
    #expect(feed([records(message)], limit: message.count - 1).1.counters.values == ["tls.too_long": 1])
    #expect(feed([records(message)], limit: message.count).0 == [.done(modern)])
    // Record lengths of 0 and above 2^14.
    #expect(feed([[22, 3, 1, 0x40, 0x01]]).1.counters.values == ["tls.bad_record_length": 1])
    #expect(feed([[22, 3, 1, 0, 0]]).1.counters.values == ["tls.bad_record_length": 1])
    // A record version that is not 3.0–3.4.
    #expect(feed([[22, 3, 5]]).1.counters.values == ["tls.bad_version": 1])
    #expect(feed([[22, 2, 0]]).1.counters.values == ["tls.bad_version": 1])
    // A ServerHello, and a handshake too short to be a ClientHello.
    var serverHello = message; serverHello[0] = 2
    #expect(feed([records(serverHello)]).1.counters.values == ["tls.not_client_hello": 1])
    #expect(feed([records([1, 0, 0, 40] + [UInt8](repeating: 3, count: 40))]).1.counters.values == ["tls.malformed": 1])
}

@Test func tlsMalformedBodies() {
    func reason(_ message: [UInt8]) -> [String: Int] { feed([records(message)]).1.counters.values }
    let malformed = ["tls.malformed": 1]
    // Session id longer than 32.
    #expect(reason(clientHello(sessionID: [UInt8](repeating: 1, count: 33), extensions: [])) == malformed)
    // legacy_version major is not 3.
    #expect(reason(clientHello(version: 0x0203, extensions: [])) == malformed)
    // ALPN list length beyond its extension.
    #expect(reason(clientHello(extensions: [ext(16, u16(50) + [2, 0x68, 0x32])])) == malformed)
    // An empty ALPN name.
    #expect(reason(clientHello(extensions: [ext(16, u16(1) + [0])])) == malformed)
    // supported_versions with an odd length.
    #expect(reason(clientHello(extensions: [ext(43, [3, 3, 4, 3])])) == malformed)
    // SNI entry running past its list.
    #expect(reason(clientHello(extensions: [ext(0, u16(5) + [0] + u16(9) + Array("ab".utf8))])) == malformed)
    // The same extension twice.
    #expect(reason(clientHello(extensions: [alpnExtension(["a"]), alpnExtension(["b"])])) == malformed)
    // Extensions length that does not cover the rest exactly.
    var short = clientHello(extensions: [alpnExtension(["h2"])])
    short += [0]; short[3] += 1
    #expect(reason(short) == malformed)
    // An extension header cut short inside the extensions block.
    #expect(reason(clientHello(extensions: [[0, 16, 0]])) == malformed)
}

// MARK: - garbage

/// The state never depends on how the bytes were cut.
private func checkSplitInvariance(_ bytes: [UInt8], rng: inout SplitMix64) {
    let whole = feed([bytes]).0.last ?? .needMore
    var pieces: [[UInt8]] = []
    var i = 0
    while i < bytes.count {
        let n = Int.random(in: 1...16, using: &rng)
        pieces.append(Array(bytes[i..<min(i + n, bytes.count)]))
        i += n
    }
    #expect((feed(pieces).0.last ?? .needMore) == whole)
}

@Test func tlsRandomGarbage() {
    var rng = SplitMix64(seed: 0x7157)
    var notTLS = 0
    for _ in 0..<3000 {
        var bytes = (0..<Int.random(in: 0..<120, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Half of them start like a handshake record, so the parser gets past the first byte.
        if bytes.count >= 5 && Bool.random(using: &rng) { bytes[0] = 22; bytes[1] = 3; bytes[2] = 1; bytes[3] = 0 }
        if feed([bytes]).0.last == .notTLS { notTLS += 1 }
        checkSplitInvariance(bytes, rng: &rng)
    }
    #expect(notTLS > 1000)
}

@Test func tlsMutatedHellos() {
    var rng = SplitMix64(seed: 99)
    let base = records(clientHello(extensions: modernExtensions), cuts: [60])
    var done = 0
    for _ in 0..<3000 {
        var bytes = base
        for _ in 0..<Int.random(in: 1...3, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
        if case .done = feed([bytes]).0.last { done += 1 }
        checkSplitInvariance(bytes, rng: &rng)
    }
    #expect(done > 0)
}
