import SonarCore
import Testing
@testable import SonarProtocols

private func framed(_ m: [UInt8]) -> [UInt8] { [UInt8(m.count >> 8), UInt8(m.count & 0xFF)] + m }

private func simpleQuery(id: UInt16, _ name: String) -> [UInt8] {
    var b = DNSBuilder(id: id, flags: 0x0100, qd: 1, an: 0)
    b.question(name, type: DNSType.a)
    return b.bytes
}

private func simpleAnswer(id: UInt16, _ name: String, _ last: UInt8) -> [UInt8] {
    var b = DNSBuilder(id: id, flags: 0x8180, qd: 1, an: 1)
    b.question(name, type: DNSType.a)
    b.pointer(12); b.recordHeader(type: DNSType.a, ttl: 7, rdLength: 4); b.raw([192, 0, 2, last])
    return b.bytes
}

private struct Emitted: Equatable { var direction: Direction; var message: DNSMessage }

/// Feeds the pieces in order, one direction each, and collects what came out.
private func run(_ pieces: [(Direction, [UInt8])], parser: DNSStreamParser = DNSStreamParser()) -> [Emitted] {
    var out: [Emitted] = []
    for (d, bytes) in pieces {
        bytes.withUnsafeBytes { parser.feed($0, direction: d) { out.append(Emitted(direction: $0, message: $1)) } }
    }
    return out
}

private func expected(_ d: Direction, _ bytes: [UInt8]) -> Emitted {
    bytes.withUnsafeBytes { Emitted(direction: d, message: DNSParser.parse($0) ?? DNSMessage(id: 0, isResponse: false, rcode: 0, questions: [], answers: [])) }
}

@Test func dnsTCPFramingSplitAtEveryByte() {
    let q1 = simpleQuery(id: 1, "a.test"), q2 = simpleQuery(id: 2, "b.test")
    let up = framed(q1) + framed(q2)
    let down = framed(cnameChainResponse()) + framed(simpleAnswer(id: 2, "b.test", 9))
    let want = [expected(.toServer, q1), expected(.toServer, q2)]
    let wantDown = [expected(.toClient, cnameChainResponse()), expected(.toClient, simpleAnswer(id: 2, "b.test", 9))]
    #expect(want.map(\.message.id) == [1, 2] && wantDown.map(\.message.id) == [7, 2])
    for cut in 0...up.count {
        #expect(run([(.toServer, Array(up[..<cut])), (.toServer, Array(up[cut...]))]) == want, "cut \(cut)")
    }
    for cut in 0...down.count {
        #expect(run([(.toClient, Array(down[..<cut])), (.toClient, Array(down[cut...]))]) == wantDown, "cut \(cut)")
    }
    // One byte at a time, the two directions interleaved.
    var pieces: [(Direction, [UInt8])] = []
    for i in 0..<max(up.count, down.count) {
        if i < up.count { pieces.append((.toServer, [up[i]])) }
        if i < down.count { pieces.append((.toClient, [down[i]])) }
    }
    let bytewise = run(pieces)
    #expect(bytewise.filter { $0.direction == .toServer } == want)
    #expect(bytewise.filter { $0.direction == .toClient } == wantDown)
}

@Test func dnsTCPMalformedMessageIsCountedAndTheNextStillParsed() {
    var loop = DNSBuilder(id: 3, flags: 0, qd: 1, an: 0)
    loop.pointer(12); loop.u16(1); loop.u16(1)
    let q = simpleQuery(id: 4, "c.test")
    let p = DNSStreamParser()
    let out = run([(.toServer, framed(loop.bytes) + framed([]) + framed(q))], parser: p)
    #expect(out == [expected(.toServer, q)])
    #expect(p.counters.values == ["dns.bad_pointer": 1, "dns.truncated": 1])
}

@Test func dnsTCPLargestMessageIsHeld() {
    // A 65535-byte message: a query padded by a skipped answer (TXT) to the maximum.
    var b = DNSBuilder(id: 5, flags: 0x8000, qd: 1, an: 1)
    b.question("big.test", type: DNSType.a)
    b.pointer(12)
    let rd = DNSStreamParser.maxMessageBytes - b.offset - 10
    b.recordHeader(type: 16, ttl: 1, rdLength: rd); b.raw([UInt8](repeating: 0x41, count: rd))
    #expect(b.bytes.count == 65535)
    let stream = framed(b.bytes)
    let chunks = stride(from: 0, to: stream.count, by: 1000).map { Array(stream[$0..<min($0 + 1000, stream.count)]) }
    #expect(run(chunks.map { (.toClient, $0) }) == [expected(.toClient, b.bytes)])
}

@Test func dnsTCPGapInsideAMessageLosesOnlyThatMessage() {
    let q1 = framed(simpleQuery(id: 1, "a.test")), q2 = simpleQuery(id: 2, "b.test")
    let p = DNSStreamParser()
    var out = run([(.toServer, Array(q1[..<10]))], parser: p)
    p.gap(5, direction: .toServer)
    out += run([(.toServer, Array(q1[15...]) + framed(q2))], parser: p)
    #expect(out == [expected(.toServer, q2)])
    #expect(p.counters.values == ["dns.gap_message_lost": 1])

    // A second gap while skipping the rest of the damaged message is absorbed too.
    let p2 = DNSStreamParser()
    _ = run([(.toServer, Array(q1[..<4]))], parser: p2)
    p2.gap(3, direction: .toServer)
    p2.gap(3, direction: .toServer)
    #expect(run([(.toServer, Array(q1[10...]) + framed(q2))], parser: p2) == [expected(.toServer, q2)])
}

@Test func dnsTCPGapThatHidesABoundaryGivesUpTheDirectionOnly() {
    let q = framed(simpleQuery(id: 1, "a.test"))
    let a = framed(simpleAnswer(id: 1, "a.test", 1))
    for (before, gap) in [(0, 3), (1, 3), (4, q.count)] {   // at a boundary, inside the prefix, past the message
        let p = DNSStreamParser()
        _ = run([(.toServer, Array(q[..<before]))], parser: p)
        p.gap(gap, direction: .toServer)
        let out = run([(.toServer, q + q), (.toClient, a)], parser: p)
        #expect(out == [expected(.toClient, simpleAnswer(id: 1, "a.test", 1))], "before \(before) gap \(gap)")
        #expect(p.counters.values == ["dns.desync": 1])
    }
}

@Test func dnsTCPGarbageNeverCrashes() {
    var rng = SplitMix64(seed: 0x7C9)
    for _ in 0..<2000 {
        let p = DNSStreamParser()
        var emitted = 0
        for _ in 0..<Int.random(in: 1...8, using: &rng) {
            let count = Int.random(in: 0..<200, using: &rng)
            var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if count >= 2 && Bool.random(using: &rng) { bytes[0] = 0 }          // plausible lengths
            let d: Direction = Bool.random(using: &rng) ? .toServer : .toClient
            if Int.random(in: 0..<10, using: &rng) == 0 { p.gap(Int.random(in: 1...300, using: &rng), direction: d) }
            bytes.withUnsafeBytes { p.feed($0, direction: d) { _, _ in emitted += 1 } }
        }
        #expect(emitted >= 0)
    }
}
