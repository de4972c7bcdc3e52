import SonarCore
import Testing
@testable import SonarDecode

@Suite struct LinkLayerTests {
    static let body: [UInt8] = Array("{\"jsonrpc\":\"2.0\",\"id\":1}".utf8)
    static let tcpV4 = Build.ipv4(ttl: 61, payload: Build.tcp(payload: body))
    static let tcpV6 = Build.ipv6(hop: 33, payload: Build.tcp(src: 1234, dst: 443, payload: body))

    func expectV4TCP(_ d: Decoded?, ttl: UInt8 = 61, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let d else { Issue.record("not decoded", sourceLocation: sourceLocation); return }
        let p = d.packet
        #expect(p.src == .v4(0xC0A8_010A), sourceLocation: sourceLocation)
        #expect(p.dst == .v4(0x0A00_0002), sourceLocation: sourceLocation)
        #expect(p.transport == .tcp, sourceLocation: sourceLocation)
        #expect(p.srcPort == 40000, sourceLocation: sourceLocation)
        #expect(p.dstPort == 8080, sourceLocation: sourceLocation)
        #expect(p.tcp == TCPInfo(seq: 0x0102_0304, ack: 0xA0B0_C0D0, flags: [.psh, .ack], window: 0xFFEE, urgentPointer: 7),
                sourceLocation: sourceLocation)
        #expect(p.ttl == ttl, sourceLocation: sourceLocation)
        #expect(d.payload == Self.body, sourceLocation: sourceLocation)
        #expect(p.payloadLength == Self.body.count, sourceLocation: sourceLocation)
        #expect(!p.payloadTruncated, sourceLocation: sourceLocation)
        #expect(!p.fromFragments, sourceLocation: sourceLocation)
        #expect(d.payloadInsideInput, sourceLocation: sourceLocation)
    }

    func expectV6TCP(_ d: Decoded?, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let d else { Issue.record("not decoded", sourceLocation: sourceLocation); return }
        #expect(d.packet.src == .v6(0x2001_0db8_0000_0000, 1), sourceLocation: sourceLocation)
        #expect(d.packet.dst == .v6(0x2001_0db8_0000_0000, 2), sourceLocation: sourceLocation)
        #expect(d.packet.srcPort == 1234 && d.packet.dstPort == 443, sourceLocation: sourceLocation)
        #expect(d.packet.ttl == 33, sourceLocation: sourceLocation)
        #expect(d.payload == Self.body, sourceLocation: sourceLocation)
        #expect(!d.packet.payloadTruncated, sourceLocation: sourceLocation)
    }

    @Test func ethernetIPv4TCP() {
        var dec = PacketDecoder()
        let frame = Build.ethernet(type: 0x0800, payload: Self.tcpV4)
        let d = run(&dec, frame, link: LinkType.ethernet)
        expectV4TCP(d)
        #expect(d?.packet.wireLength == frame.count)
        #expect(d?.packet.timestamp == Timestamp(seconds: 1_700_000_000, microseconds: 250))
        #expect(dec.counters.isEmpty)
    }

    @Test func ethernetIPv6TCP() {
        var dec = PacketDecoder()
        expectV6TCP(run(&dec, Build.ethernet(type: 0x86DD, payload: Self.tcpV6), link: LinkType.ethernet))
        #expect(dec.counters.isEmpty)
    }

    @Test func tcpOptionsAndIPv4OptionsAreSkipped() {
        var dec = PacketDecoder()
        let opts: [UInt8] = [2, 4, 0x05, 0xB4, 1, 1, 4, 2, 1, 3, 3, 7]  // MSS, NOP, NOP, SACK-perm, NOP, WS
        let ip = Build.ipv4(ttl: 61, options: [1, 1, 1, 0], payload: Build.tcp(options: opts, payload: Self.body))
        let d = run(&dec, Build.ethernet(type: 0x0800, payload: ip), link: LinkType.ethernet)
        expectV4TCP(d)
    }

    @Test func allTCPFlags() {
        var dec = PacketDecoder()
        let ip = Build.ipv4(payload: Build.tcp(flags: 0xFF))
        let d = run(&dec, ip, link: LinkType.raw)
        #expect(d?.packet.tcp.flags == [.fin, .syn, .rst, .psh, .ack, .urg, .ece, .cwr])
        #expect(d?.payload == [])
        let syn = run(&dec, Build.ipv4(payload: Build.tcp(flags: 0x02)), link: LinkType.raw)
        #expect(syn?.packet.tcp.flags == .syn)
    }

    @Test func udp() {
        var dec = PacketDecoder()
        let ip = Build.ipv4(proto: 17, ttl: 5, payload: Build.udp(payload: [1, 2, 3]))
        let d = run(&dec, Build.ethernet(type: 0x0800, payload: ip), link: LinkType.ethernet)
        #expect(d?.packet.transport == .udp)
        #expect(d?.packet.srcPort == 5353)
        #expect(d?.packet.dstPort == 53)
        #expect(d?.packet.tcp == .zero)
        #expect(d?.packet.ttl == 5)
        #expect(d?.payload == [1, 2, 3])
        #expect(d?.packet.payloadTruncated == false)
    }

    @Test(arguments: [[0x8100], [0x88A8, 0x8100], [0x9100, 0x9100, 0x8100], [0x8100, 0x8100, 0x8100, 0x8100, 0x8100]])
    func vlanTags(tags: [Int]) {
        var dec = PacketDecoder()
        expectV4TCP(run(&dec, Build.ethernet(type: 0x0800, tags: tags, payload: Self.tcpV4), link: LinkType.ethernet))
        expectV6TCP(run(&dec, Build.ethernet(type: 0x86DD, tags: tags, payload: Self.tcpV6), link: LinkType.ethernet))
        #expect(dec.counters.isEmpty)
    }

    @Test func truncatedVLANTag() {
        var dec = PacketDecoder()
        let frame = Build.macs + [0x81, 0x00, 0x00, 0x64, 0x08]
        #expect(run(&dec, frame, link: LinkType.ethernet) == nil)
        #expect(dec.counters["decode.truncated_link"] == 1)
    }

    @Test func nonIPEtherTypes() {
        var dec = PacketDecoder()
        #expect(run(&dec, Build.ethernet(type: 0x0806, payload: Build.bytes(28)), link: LinkType.ethernet) == nil)
        #expect(run(&dec, Build.ethernet(type: 0x0800 - 0x700, payload: Build.bytes(46)), link: LinkType.ethernet) == nil)
        #expect(run(&dec, Build.ethernet(type: 0x0806, tags: [0x8100], payload: Build.bytes(28)), link: LinkType.ethernet) == nil)
        #expect(dec.counters["decode.not_ip"] == 3)
    }

    @Test func etherTypeAndVersionMismatch() {
        var dec = PacketDecoder()
        #expect(run(&dec, Build.ethernet(type: 0x0800, payload: Self.tcpV6), link: LinkType.ethernet) == nil)
        #expect(dec.counters["decode.bad_ip_version"] == 1)
    }

    @Test func linuxCookedV1() {
        var dec = PacketDecoder()
        expectV4TCP(run(&dec, Build.sll(proto: 0x0800, payload: Self.tcpV4), link: LinkType.linuxSLL))
        expectV6TCP(run(&dec, Build.sll(proto: 0x86DD, payload: Self.tcpV6), link: LinkType.linuxSLL))
        #expect(run(&dec, Build.sll(proto: 0x0806, payload: Build.bytes(28)), link: LinkType.linuxSLL) == nil)
        #expect(run(&dec, Array(Build.sll(proto: 0x0800, payload: []).prefix(15)), link: LinkType.linuxSLL) == nil)
        #expect(dec.counters["decode.not_ip"] == 1)
        #expect(dec.counters["decode.truncated_link"] == 1)
    }

    @Test func linuxCookedV2() {
        var dec = PacketDecoder()
        expectV4TCP(run(&dec, Build.sll2(proto: 0x0800, payload: Self.tcpV4), link: LinkType.linuxSLL2))
        expectV6TCP(run(&dec, Build.sll2(proto: 0x86DD, payload: Self.tcpV6), link: LinkType.linuxSLL2))
        // A VLAN-tagged frame kept by the kernel: the tag follows the 20-byte header.
        let tagged = Build.sll2(proto: 0x8100, payload: Build.be16(5) + Build.be16(0x0800) + Self.tcpV4)
        expectV4TCP(run(&dec, tagged, link: LinkType.linuxSLL2))
        #expect(run(&dec, Array(Build.sll2(proto: 0x0800, payload: []).prefix(19)), link: LinkType.linuxSLL2) == nil)
        #expect(dec.counters["decode.truncated_link"] == 1)
    }

    @Test func bsdNullAndLoopInEitherByteOrder() {
        var dec = PacketDecoder()
        for link in [LinkType.null, LinkType.loop] {
            expectV4TCP(run(&dec, Build.le32(2) + Self.tcpV4, link: link))
            expectV4TCP(run(&dec, Build.be32(2) + Self.tcpV4, link: link))
            for family: UInt32 in [10, 24, 28, 30] {
                expectV6TCP(run(&dec, Build.le32(family) + Self.tcpV6, link: link))
                expectV6TCP(run(&dec, Build.be32(family) + Self.tcpV6, link: link))
            }
        }
        #expect(dec.counters.isEmpty)
        #expect(run(&dec, Build.le32(7) + Self.tcpV4, link: LinkType.null) == nil)
        #expect(run(&dec, [2, 0, 0], link: LinkType.null) == nil)
        #expect(dec.counters["decode.not_ip"] == 1)
        #expect(dec.counters["decode.truncated_link"] == 1)
    }

    @Test func rawIP() {
        var dec = PacketDecoder()
        for link in [LinkType.raw, LinkType.raw14, LinkType.linkTypeRaw] {
            expectV4TCP(run(&dec, Self.tcpV4, link: link))
            expectV6TCP(run(&dec, Self.tcpV6, link: link))
        }
        expectV4TCP(run(&dec, Self.tcpV4, link: LinkType.ipv4))
        expectV6TCP(run(&dec, Self.tcpV6, link: LinkType.ipv6))
        #expect(dec.counters.isEmpty)
        #expect(run(&dec, Self.tcpV6, link: LinkType.ipv4) == nil)
        #expect(run(&dec, Self.tcpV4, link: LinkType.ipv6) == nil)
        #expect(run(&dec, [0x50] + Self.tcpV4.dropFirst(), link: LinkType.raw) == nil)
        #expect(dec.counters["decode.bad_ip_version"] == 3)
        #expect(run(&dec, [], link: LinkType.raw) == nil)
        #expect(dec.counters["decode.truncated_ip"] == 1)
    }

    @Test func unknownLinkType() {
        var dec = PacketDecoder()
        #expect(run(&dec, Build.ethernet(type: 0x0800, payload: Self.tcpV4), link: 127) == nil)
        #expect(run(&dec, Self.tcpV4, link: -1) == nil)
        #expect(dec.counters["decode.unsupported_linktype"] == 2)
        #expect(dec.counters.values.count == 1)
    }

    @Test func ethernetPaddingIsNotPayload() {
        var dec = PacketDecoder()
        // A bare ACK: 14 + 20 + 20 = 54 bytes, padded to the 60-byte minimum with junk.
        let ack = Build.ethernet(type: 0x0800, payload: Build.ipv4(payload: Build.tcp(flags: 0x10)))
        let padded = ack + [0xDE, 0xAD, 0xBE, 0xEF, 0x55, 0x66]
        let d = run(&dec, padded, link: LinkType.ethernet)
        #expect(d?.payload == [])
        #expect(d?.packet.payloadLength == 0)
        #expect(d?.packet.payloadTruncated == false)
        // UDP with one byte of data, padded.
        let udp = Build.ethernet(type: 0x0800, payload: Build.ipv4(proto: 17, payload: Build.udp(payload: [0x42])))
        let u = run(&dec, udp + [UInt8](repeating: 0xEE, count: 60 - udp.count), link: LinkType.ethernet)
        #expect(u?.payload == [0x42])
        // IPv6 behind padding too (a short v6 frame is never padded in practice, but trailers exist).
        let v6 = Build.ethernet(type: 0x86DD, payload: Self.tcpV6) + [1, 2, 3, 4]
        expectV6TCP(run(&dec, v6, link: LinkType.ethernet))
        #expect(dec.counters.isEmpty)
    }
}
