import SonarCore
import Testing
@testable import SonarDecode

/// `PacketDecoder.peekEnds`, the read-ahead's guess at a frame's flow: on every frame it reads,
/// the same ends and transport as the decoder finds; nil where a guess would need more than a
/// glance (fragments, extension headers, other protocols), never a wrong answer.
@Suite("Frame peek") struct FramePeekTests {
    static let v4TCP = Build.ipv4(payload: Build.tcp(src: 40001, dst: 8080, payload: Build.bytes(10)))
    static let v4UDP = Build.ipv4(proto: 17, payload: Build.udp(src: 5353, dst: 53, payload: Build.bytes(4)))
    static let v6TCP = Build.ipv6(payload: Build.tcp(src: 50000, dst: 443))
    static let v4Options = Build.ipv4(options: [1, 1, 1, 1], payload: Build.tcp(src: 1234, dst: 80))

    static let frames: [(String, [UInt8], Int32)] = [
        ("ethernet ipv4 tcp", Build.ethernet(type: 0x0800, payload: v4TCP), LinkType.ethernet),
        ("ethernet ipv4 udp", Build.ethernet(type: 0x0800, payload: v4UDP), LinkType.ethernet),
        ("ethernet ipv4 options", Build.ethernet(type: 0x0800, payload: v4Options), LinkType.ethernet),
        ("ethernet ipv6 tcp", Build.ethernet(type: 0x86DD, payload: v6TCP), LinkType.ethernet),
        ("ethernet vlan ipv4", Build.ethernet(type: 0x0800, tags: [0x8100], payload: v4TCP), LinkType.ethernet),
        ("linux sll", Build.sll(proto: 0x0800, payload: v4TCP), LinkType.linuxSLL),
        ("linux sll2", Build.sll2(proto: 0x86DD, payload: v6TCP), LinkType.linuxSLL2),
        ("null", Build.le32(2) + v4TCP, LinkType.null),
        ("loop", Build.be32(2) + v4UDP, LinkType.loop),
        ("raw", v6TCP, LinkType.raw),
        ("raw ipv4", v4TCP, LinkType.ipv4),
    ]

    @Test(arguments: frames.indices)
    func guessesWhatTheDecoderFinds(_ i: Int) throws {
        let (name, frame, link) = Self.frames[i]
        var decoder = PacketDecoder()
        let decoded = try #require(run(&decoder, frame, link: link), "\(name)")
        let peeked = try #require(frame.withUnsafeBytes { PacketDecoder.peekEnds($0, linkType: link) }, "\(name)")
        #expect(peeked.source == decoded.packet.source, "\(name)")
        #expect(peeked.destination == decoded.packet.destination, "\(name)")
        #expect(peeked.transport == decoded.packet.transport, "\(name)")
    }

    @Test func readsTheFieldsItNames() throws {
        let frame = Build.ethernet(type: 0x0800, payload: Self.v4TCP)
        let peeked = try #require(frame.withUnsafeBytes { PacketDecoder.peekEnds($0, linkType: LinkType.ethernet) })
        #expect(peeked.source == Endpoint(address: .v4(0xC0A8_010A), port: 40001))
        #expect(peeked.destination == Endpoint(address: .v4(0x0A00_0002), port: 8080))
        #expect(peeked.transport == .tcp)
    }

    @Test func doesNotGuessWhereAGlanceIsNotEnough() {
        let cases: [(String, [UInt8], Int32)] = [
            ("first fragment", Build.ethernet(type: 0x0800, payload: Build.ipv4(flagsOffset: 0x2000, payload: Build.tcp())), LinkType.ethernet),
            ("later fragment", Build.ethernet(type: 0x0800, payload: Build.ipv4(flagsOffset: 0x0010, payload: Build.tcp())), LinkType.ethernet),
            ("ipv6 extension header", Build.ipv6(next: 0, payload: Build.ext(next: 6) + Build.tcp()), LinkType.raw),
            ("icmp", Build.ipv4(proto: 1, payload: Build.bytes(8)), LinkType.raw),
            ("arp", Build.ethernet(type: 0x0806, payload: Build.bytes(28)), LinkType.ethernet),
            ("two vlan tags", Build.ethernet(type: 0x0800, tags: [0x88A8, 0x8100], payload: Self.v4TCP), LinkType.ethernet),
            ("cut in the ports", Array(Build.ethernet(type: 0x0800, payload: Self.v4TCP).prefix(14 + 20 + 3)), LinkType.ethernet),
            ("ipv4 header length under 20", Build.ipv4(ihlWords: 4, payload: Build.tcp()), LinkType.raw),
            ("empty", [], LinkType.raw),
            ("unknown link type", Self.v4TCP, 9999),
        ]
        for (name, frame, link) in cases {
            #expect(frame.withUnsafeBytes { PacketDecoder.peekEnds($0, linkType: link) } == nil, "\(name)")
        }
    }
}
