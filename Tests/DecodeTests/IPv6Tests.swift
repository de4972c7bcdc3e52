import SonarCore
import Testing
@testable import SonarDecode

@Suite struct IPv6Tests {
    static let body: [UInt8] = Array("data: {}\n\n".utf8)
    static let tcp = Build.tcp(src: 1234, dst: 443, payload: body)

    func expectDecoded(_ d: Decoded?, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(d?.packet.transport == .tcp, sourceLocation: sourceLocation)
        #expect(d?.packet.srcPort == 1234, sourceLocation: sourceLocation)
        #expect(d?.packet.dstPort == 443, sourceLocation: sourceLocation)
        #expect(d?.packet.src == .v6(0x2001_0db8_0000_0000, 1), sourceLocation: sourceLocation)
        #expect(d?.packet.ttl == 57, sourceLocation: sourceLocation)
        #expect(d?.payload == Self.body, sourceLocation: sourceLocation)
        #expect(d?.packet.payloadTruncated == false, sourceLocation: sourceLocation)
    }

    @Test(arguments: [0, 43, 60] as [UInt8])
    func genericExtensionHeader(type: UInt8) {
        var dec = PacketDecoder()
        for units in [0, 1, 3] {
            let pkt = Build.ipv6(next: type, payload: Build.ext(next: 6, lengthUnits: units) + Self.tcp)
            expectDecoded(run(&dec, pkt, link: LinkType.raw))
        }
        #expect(dec.counters.isEmpty)
    }

    @Test func authenticationHeader() {
        var dec = PacketDecoder()
        for units in [1, 4, 7] {
            let pkt = Build.ipv6(next: 51, payload: Build.ah(next: 6, lengthUnits: units) + Self.tcp)
            expectDecoded(run(&dec, pkt, link: LinkType.raw))
        }
        #expect(dec.counters.isEmpty)
    }

    @Test func chainOfEveryHeader() {
        var dec = PacketDecoder()
        // Hop-by-Hop, Routing, Destination Options, AH, atomic Fragment, Destination Options, UDP.
        let chain = Build.ext(next: 43, lengthUnits: 1) + Build.ext(next: 60, lengthUnits: 2) + Build.ext(next: 51)
            + Build.ah(next: 44) + Build.fragment6(next: 60, offset: 0, more: false, id: 9) + Build.ext(next: 17)
        let pkt = Build.ipv6(next: 0, payload: chain + Build.udp(src: 1, dst: 2, payload: [7, 7]))
        let d = run(&dec, pkt, link: LinkType.raw)
        #expect(d?.packet.transport == .udp)
        #expect(d?.packet.srcPort == 1 && d?.packet.dstPort == 2)
        #expect(d?.payload == [7, 7])
        #expect(d?.packet.fromFragments == false)
        #expect(dec.counters.isEmpty)
    }

    @Test func espStops() {
        var dec = PacketDecoder()
        #expect(run(&dec, Build.ipv6(next: 50, payload: Build.bytes(40)), link: LinkType.raw) == nil)
        #expect(run(&dec, Build.ipv6(next: 0, payload: Build.ext(next: 50) + Build.bytes(40)), link: LinkType.raw) == nil)
        #expect(dec.counters["decode.ipv6_esp"] == 2)
    }

    @Test func noNextHeader() {
        var dec = PacketDecoder()
        #expect(run(&dec, Build.ipv6(next: 59, payload: []), link: LinkType.raw) == nil)
        #expect(run(&dec, Build.ipv6(next: 60, payload: Build.ext(next: 59) + [1, 2, 3]), link: LinkType.raw) == nil)
        #expect(dec.counters["decode.not_tcp_udp"] == 2)
        #expect(dec.counters.values.count == 1)
    }

    @Test func extensionHeaderBeyondPayloadLength() {
        var dec = PacketDecoder()
        // The header says 8 * (1 + 200) bytes but the packet claims far fewer.
        let pkt = Build.ipv6(next: 0, payload: [6, 200] + Build.bytes(30) + Self.tcp)
        #expect(run(&dec, pkt, link: LinkType.raw) == nil)
        #expect(dec.counters["decode.ipv6_ext_headers_bad"] == 1)
        // Only the first byte of a header inside the claimed length.
        let tiny = Build.ipv6(next: 43, payloadLength: 1, payload: [6])
        #expect(run(&dec, tiny, link: LinkType.raw) == nil)
        #expect(dec.counters["decode.ipv6_ext_headers_bad"] == 2)
    }

    @Test func tooManyExtensionHeaders() {
        var dec = PacketDecoder()
        var chain: [UInt8] = []
        for _ in 0..<40 { chain += Build.ext(next: 60) }
        chain[chain.count - 8] = 6
        #expect(run(&dec, Build.ipv6(next: 60, payload: chain + Self.tcp), link: LinkType.raw) == nil)
        #expect(dec.counters["decode.ipv6_ext_headers_bad"] == 1)
        var limits = DecodeLimits()
        limits.maxIPv6ExtensionHeaders = 64
        var lenient = PacketDecoder(limits: limits)
        expectDecoded(run(&lenient, Build.ipv6(next: 60, payload: chain + Self.tcp), link: LinkType.raw))
    }

    @Test func extensionHeaderCutBySnaplen() {
        var dec = PacketDecoder()
        let pkt = Build.ipv6(next: 0, payload: Build.ext(next: 6, lengthUnits: 2) + Self.tcp)
        #expect(run(&dec, Array(pkt.prefix(50)), link: LinkType.raw, wire: pkt.count) == nil)
        #expect(dec.counters["decode.truncated_ip"] == 1)
    }

    @Test func fragmentsAreReassembled() {
        var dec = PacketDecoder()
        // Fragmentable part: a Destination Options header, then UDP with 100 bytes.
        let whole = Build.ext(next: 17) + Build.udp(src: 9, dst: 10, payload: Build.bytes(100))
        let pieces = [(0, 48), (48, whole.count - 48)]
        var result: Decoded?
        for (i, (off, len)) in pieces.reversed().enumerated() {
            let more = off + len < whole.count
            let frag = Build.fragment6(next: 60, offset: off, more: more, id: 0xDEAD_BEEF) + Array(whole[off..<off + len])
            result = run(&dec, Build.ethernet(type: 0x86DD, payload: Build.ipv6(next: 0, payload: Build.ext(next: 44) + frag)),
                         link: LinkType.ethernet)
            #expect((result == nil) == (i == 0))
        }
        #expect(result?.packet.transport == .udp)
        #expect(result?.packet.srcPort == 9)
        #expect(result?.payload == Build.bytes(100))
        #expect(result?.packet.fromFragments == true)
        #expect(result?.packet.ttl == 57)
        #expect(dec.counters["decode.ipv6_fragments"] == 2)
        #expect(dec.counters["decode.ipv6_fragments_reassembled"] == 1)
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.fragmentBytesInUse == 0)
    }

    @Test func fragmentKeyIgnoresNextHeaderButNotAddresses() {
        var dec = PacketDecoder()
        let whole = Build.udp(payload: Build.bytes(24))
        let first = Build.ipv6(next: 44, payload: Build.fragment6(next: 17, offset: 0, more: true, id: 5) + Array(whole[0..<16]))
        let otherSrc = Build.ipv6(next: 44, src: Build.dstV6,
                                  payload: Build.fragment6(next: 17, offset: 16, more: false, id: 5) + Array(whole[16...]))
        #expect(run(&dec, first, link: LinkType.raw) == nil)
        #expect(run(&dec, otherSrc, link: LinkType.raw) == nil)
        #expect(dec.fragmentBuffersInUse == 2)
    }
}

@Suite struct IPv6LengthTests {
    @Test func zeroPayloadLengthUsesTheFrame() {
        // BIG TCP / jumbogram captures: payload length 0, the frame says how long the packet is.
        var dec = PacketDecoder()
        let pkt = Build.ipv6(payloadLength: 0, payload: Build.tcp(payload: [5, 6, 7]))
        let d = run(&dec, pkt, link: LinkType.raw)
        #expect(d?.payload == [5, 6, 7])
        #expect(d?.packet.payloadTruncated == false)
        #expect(dec.counters[DecodeCounter.ipv6ZeroLength] == 1)
        // Cut by snaplen: the wire length still gives the real size.
        let cut = run(&dec, Array(pkt.prefix(62)), link: LinkType.raw, wire: pkt.count)
        #expect(cut?.payload == [5, 6])
        #expect(cut?.packet.payloadTruncated == true)
        #expect(cut?.packet.payloadLength == 3)
    }

    @Test func payloadLengthShorterThanFrameIgnoresTrailer() {
        var dec = PacketDecoder()
        let pkt = Build.ipv6(next: 17, payload: Build.udp(payload: [1, 2])) + [9, 9, 9, 9]
        let d = run(&dec, pkt, link: LinkType.raw)
        #expect(d?.payload == [1, 2])
        #expect(dec.counters.isEmpty)
    }
}
