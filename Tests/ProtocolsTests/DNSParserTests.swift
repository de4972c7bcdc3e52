import SonarCore
import Testing
@testable import SonarProtocols

// MARK: - messages used by several tests

/// Query for `MCP.Example.com` A, recursion desired.
private func query() -> [UInt8] {
    var b = DNSBuilder(id: 0x1234, flags: 0x0100, qd: 1, an: 0)
    b.question("MCP.Example.com", type: DNSType.a)
    return b.bytes
}

/// Response to `api.example.com` A with compression; also carries records that must be skipped.
private func compressedResponse() -> [UInt8] {
    var b = DNSBuilder(id: 0xBEEF, flags: 0x8180, qd: 1, an: 5)
    b.question("api.example.com", type: DNSType.a)   // name at 12; "example" at 16; "com" at 24
    b.pointer(12); b.recordHeader(type: DNSType.a, ttl: 300, rdLength: 4); b.raw([93, 184, 216, 34])
    // MX (skipped by RDLENGTH): preference + name "mail" -> example.com
    b.pointer(12); b.recordHeader(type: 15, ttl: 300, rdLength: 9); b.u16(10); b.labels("mail"); b.pointer(16)
    // "www" + pointer to example.com
    b.labels("WWW"); b.pointer(16); b.recordHeader(type: DNSType.aaaa, ttl: 60, rdLength: 16)
    b.raw([0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [1])
    // A record of class CH (skipped: only IN is read).
    b.pointer(12); b.recordHeader(type: DNSType.a, ttl: 5, rdLength: 4, rrClass: 3); b.raw([1, 1, 1, 1])
    // TXT (skipped) with empty-ish data.
    b.pointer(24); b.recordHeader(type: 16, ttl: 1, rdLength: 3); b.raw([2, 0x68, 0x69])
    return b.bytes
}

/// `mcp.example.com` → CNAME `edge.cdn.net` → CNAME `e1.cdn.net` → A ×2, AAAA ×1.
func cnameChainResponse() -> [UInt8] {
    var b = DNSBuilder(id: 7, flags: 0x8180, qd: 1, an: 5)
    b.question("mcp.example.com", type: DNSType.a)     // name at 12
    b.pointer(12)
    let cdn = b.offset + 10 + 5                         // where "cdn.net" will sit in the first RDATA
    b.recordHeader(type: DNSType.cname, ttl: 600, rdLength: 14); b.name("edge.cdn.net")
    let edge = cdn - 5
    b.pointer(edge)
    let e1 = b.offset + 10
    b.recordHeader(type: DNSType.cname, ttl: 60, rdLength: 5); b.labels("e1"); b.pointer(cdn)
    b.pointer(e1); b.recordHeader(type: DNSType.a, ttl: 30, rdLength: 4); b.raw([10, 0, 0, 1])
    b.pointer(e1); b.recordHeader(type: DNSType.a, ttl: 90, rdLength: 4); b.raw([10, 0, 0, 2])
    b.pointer(e1); b.recordHeader(type: DNSType.aaaa, ttl: 45, rdLength: 16)
    b.raw([0xfd, 0] + [UInt8](repeating: 0, count: 13) + [2])
    return b.bytes
}

// MARK: - well-formed messages

@Test func dnsQuery() {
    #expect(dnsParse(query()) == .success(DNSMessage(
        id: 0x1234, isResponse: false, rcode: 0,
        questions: [DNSQuestion(name: "mcp.example.com", type: 1)], answers: [])))
}

@Test func dnsResponseWithCompression() {
    #expect(dnsParse(compressedResponse()) == .success(DNSMessage(
        id: 0xBEEF, isResponse: true, rcode: 0,
        questions: [DNSQuestion(name: "api.example.com", type: 1)],
        answers: [
            DNSRecord(name: "api.example.com", type: 1, ttl: 300, address: .v4(93, 184, 216, 34)),
            DNSRecord(name: "www.example.com", type: 28, ttl: 60, address: .v6(0x2001_0db8_0000_0000, 1)),
        ])))
}

@Test func dnsNXDomainAndRootName() {
    var b = DNSBuilder(id: 9, flags: 0x8183, qd: 2, an: 0)
    b.question("nope.example", type: DNSType.aaaa)
    b.u8(0); b.u16(2); b.u16(1)                           // the root, type NS
    #expect(dnsParse(b.bytes) == .success(DNSMessage(
        id: 9, isResponse: true, rcode: 3,
        questions: [DNSQuestion(name: "nope.example", type: 28), DNSQuestion(name: "", type: 2)], answers: [])))
}

@Test func dnsOddBytesInLabelsAreEscaped() throws {
    var b = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    b.u8(5); b.raw([UInt8(ascii: "A"), UInt8(ascii: "."), UInt8(ascii: "b"), 0, 0xFF])
    b.u8(2); b.raw([UInt8(ascii: "\\"), UInt8(ascii: "Z")]); b.u8(0)
    b.u16(1); b.u16(1)
    #expect(try dnsParse(b.bytes).get().questions == [DNSQuestion(name: #"a\046b\000\255.\092z"#, type: 1)])
}

@Test func dnsCNAMEChainToTwoAAndOneAAAA() throws {
    let m = try dnsParse(cnameChainResponse()).get()
    #expect(m.answers == [
        DNSRecord(name: "mcp.example.com", type: 5, ttl: 600, target: "edge.cdn.net"),
        DNSRecord(name: "edge.cdn.net", type: 5, ttl: 60, target: "e1.cdn.net"),
        DNSRecord(name: "e1.cdn.net", type: 1, ttl: 30, address: .v4(10, 0, 0, 1)),
        DNSRecord(name: "e1.cdn.net", type: 1, ttl: 90, address: .v4(10, 0, 0, 2)),
        DNSRecord(name: "e1.cdn.net", type: 28, ttl: 45, address: .v6(0xfd00_0000_0000_0000, 2)),
    ])
    let resolved = dnsAddressNames(m)
    let chain = ["mcp.example.com", "edge.cdn.net", "e1.cdn.net"]
    #expect(resolved.map(\.address) == [.v4(10, 0, 0, 1), .v4(10, 0, 0, 2), .v6(0xfd00_0000_0000_0000, 2)])
    #expect(resolved.map(\.names) == [chain, chain, chain])
    #expect(resolved.map(\.ttl) == [30, 60, 45])
}

@Test func dnsAddressNamesWithoutCNAMEAndWithACNAMELoop() {
    let a = DNSRecord(name: "x.test", type: 1, ttl: 5, address: .v4(1, 2, 3, 4))
    var m = DNSMessage(id: 0, isResponse: true, rcode: 0, questions: [DNSQuestion(name: "x.test", type: 1)], answers: [a])
    #expect(dnsAddressNames(m).map(\.names) == [["x.test"]])
    // x.test ← y.test ← x.test: the loop is cut where a name repeats.
    m.answers = [DNSRecord(name: "y.test", type: 5, ttl: 9, target: "x.test"),
                 DNSRecord(name: "x.test", type: 5, ttl: 9, target: "y.test"), a]
    #expect(dnsAddressNames(m).map(\.names) == [["y.test", "x.test"]])
    #expect(dnsAddressNames(m).map(\.ttl) == [5])
}

// MARK: - malformed messages

@Test func dnsPointerToItselfAndForwardAreRejected() {
    var selfLoop = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    selfLoop.pointer(12); selfLoop.u16(1); selfLoop.u16(1)
    #expect(dnsParse(selfLoop.bytes) == .failure(.badPointer))

    // "a" then a pointer back to the "a" label: a loop through the labels of the same run.
    var labelLoop = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    labelLoop.labels("a"); labelLoop.pointer(12); labelLoop.u16(1); labelLoop.u16(1)
    #expect(dnsParse(labelLoop.bytes) == .failure(.badPointer))

    // A pointer forward, to a valid name after the question.
    var forward = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    forward.pointer(18); forward.u16(1); forward.u16(1); forward.name("later.test")
    #expect(dnsParse(forward.bytes) == .failure(.badPointer))

    // Two names pointing at each other: the first jump goes forward.
    var mutual = DNSBuilder(id: 1, flags: 0, qd: 2, an: 0)
    mutual.pointer(18); mutual.u16(1); mutual.u16(1)
    mutual.pointer(12); mutual.u16(1); mutual.u16(1)
    #expect(dnsParse(mutual.bytes) == .failure(.badPointer))

    // A pointer past the end of the message.
    var outside = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    outside.pointer(0x3FFF); outside.u16(1); outside.u16(1)
    #expect(dnsParse(outside.bytes) == .failure(.badPointer))
}

/// A chain of `jumps` pointers, each to the one before, ending at the name "x": hidden in the
/// RDATA of a skipped TXT record, then used as the name of a question-less answer.
private func pointerChain(jumps: Int) -> [UInt8] {
    var b = DNSBuilder(id: 1, flags: 0x8000, qd: 0, an: 2)
    b.u8(0); b.recordHeader(type: 16, ttl: 0, rdLength: 3 + 2 * (jumps - 1))
    var previous = b.offset
    b.name("x")
    for _ in 0..<(jumps - 1) { let here = b.offset; b.pointer(previous); previous = here }
    b.pointer(previous); b.recordHeader(type: DNSType.a, ttl: 1, rdLength: 4); b.raw([1, 2, 3, 4])
    return b.bytes
}

@Test func dnsPointerJumpsAreBounded() throws {
    let ok = try dnsParse(pointerChain(jumps: DNSParser.maxPointerJumps)).get()
    #expect(ok.answers == [DNSRecord(name: "x", type: 1, ttl: 1, address: .v4(1, 2, 3, 4))])
    #expect(dnsParse(pointerChain(jumps: DNSParser.maxPointerJumps + 1)) == .failure(.pointerLoop))
}

@Test func dnsLabelAndNameLimits() {
    var reserved = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    reserved.u8(0x41); reserved.raw([UInt8](repeating: 0x61, count: 1)); reserved.u8(0); reserved.u16(1); reserved.u16(1)
    #expect(dnsParse(reserved.bytes) == .failure(.badLabelType))
    reserved.bytes[12] = 0x80
    #expect(dnsParse(reserved.bytes) == .failure(.badLabelType))

    let label63 = String(repeating: "a", count: 63)
    // 3 × 64 + 62 + 1 = 255 bytes: the longest legal name.
    var longest = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    longest.question([label63, label63, label63, String(repeating: "b", count: 61)].joined(separator: "."), type: 1)
    #expect((try? dnsParse(longest.bytes).get().questions.first?.name.count) == 63 * 3 + 61 + 3)
    var tooLong = DNSBuilder(id: 1, flags: 0, qd: 1, an: 0)
    tooLong.question([label63, label63, label63, String(repeating: "b", count: 62)].joined(separator: "."), type: 1)
    #expect(dnsParse(tooLong.bytes) == .failure(.nameTooLong))

    // Too long only through compression: 200 bytes of labels, then a pointer to 100 more.
    var viaPointer = DNSBuilder(id: 1, flags: 0, qd: 2, an: 0)
    viaPointer.question([label63, String(repeating: "c", count: 35)].joined(separator: "."), type: 1)
    viaPointer.labels([label63, label63, label63].joined(separator: ".")); viaPointer.pointer(12)
    viaPointer.u16(1); viaPointer.u16(1)
    #expect(dnsParse(viaPointer.bytes) == .failure(.nameTooLong))
}

@Test func dnsBadRData() {
    var shortA = DNSBuilder(id: 1, flags: 0x8000, qd: 0, an: 1)
    shortA.name("a.test"); shortA.recordHeader(type: DNSType.a, ttl: 1, rdLength: 3); shortA.raw([1, 2, 3])
    #expect(dnsParse(shortA.bytes) == .failure(.badRData))

    var longAAAA = DNSBuilder(id: 1, flags: 0x8000, qd: 0, an: 1)
    longAAAA.name("a.test"); longAAAA.recordHeader(type: DNSType.aaaa, ttl: 1, rdLength: 17)
    longAAAA.raw([UInt8](repeating: 0, count: 17))
    #expect(dnsParse(longAAAA.bytes) == .failure(.badRData))

    // A CNAME whose name runs past RDLENGTH into the next bytes.
    var overrun = DNSBuilder(id: 1, flags: 0x8000, qd: 0, an: 1)
    overrun.name("a.test"); overrun.recordHeader(type: DNSType.cname, ttl: 1, rdLength: 3); overrun.name("b.test")
    #expect(dnsParse(overrun.bytes) == .failure(.badRData))

    // A CNAME whose name ends before RDLENGTH does.
    var slack = DNSBuilder(id: 1, flags: 0x8000, qd: 0, an: 1)
    slack.name("a.test"); slack.recordHeader(type: DNSType.cname, ttl: 1, rdLength: 9); slack.name("b.test"); slack.u8(0)
    #expect(dnsParse(slack.bytes) == .failure(.badRData))
}

@Test(arguments: [0, 1, 2])
func dnsTruncatedAtEveryLength(which: Int) {
    let full = [query(), compressedResponse(), cnameChainResponse()][which]
    #expect((try? dnsParse(full).get()) != nil)
    for length in 0..<full.count {
        let prefix = Array(full.prefix(length))
        #expect(dnsParse(prefix) == .failure(.truncated), "length \(length)")
    }
}

/// Structural facts every successful parse must satisfy, whatever the input.
private func checkInvariants(_ m: DNSMessage) {
    for r in m.answers {
        switch r.type {
        case DNSType.a: #expect(r.address?.isV6 == false && r.target == nil)
        case DNSType.aaaa: #expect(r.address?.isV6 == true && r.target == nil)
        case DNSType.cname: #expect(r.address == nil && r.target != nil)
        default: Issue.record("unexpected type \(r.type)")
        }
    }
    for name in m.questions.map(\.name) + m.answers.map(\.name) {
        #expect(!name.hasSuffix(".") && name.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !($0 >= 0x41 && $0 <= 0x5A) })
        #expect(name.utf8.count <= 4 * 253)
    }
}

@Test func dnsRandomGarbageNeverCrashes() {
    var rng = SplitMix64(seed: 0xD115)
    var parsed = 0
    for _ in 0..<5000 {
        let count = Int.random(in: 0..<300, using: &rng)
        var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &rng) }
        // Small section counts make it past the header far more often.
        if count >= 12 { for i in [4, 6] { bytes[i] = 0; bytes[i + 1] = UInt8.random(in: 0...3, using: &rng) } }
        if case .success(let m) = dnsParse(bytes) { parsed += 1; checkInvariants(m) }
    }
    #expect(parsed > 0)
}

@Test func dnsMutatedResponsesNeverCrash() {
    var rng = SplitMix64(seed: 42)
    let bases = [compressedResponse(), cnameChainResponse()]
    var outcomes = [String: Int]()
    for i in 0..<5000 {
        var bytes = bases[i % 2]
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        }
        switch dnsParse(bytes) {
        case .success(let m): checkInvariants(m); outcomes["ok", default: 0] += 1
        case .failure(let e): outcomes[e.rawValue, default: 0] += 1
        }
    }
    #expect(outcomes["ok", default: 0] > 0)
    #expect(outcomes.values.reduce(0, +) == 5000)
}
