import Foundation
import SonarCore
import Testing
@testable import SonarDecode

/// `PacketDecoder.flowTuple`, the flow hint read from a coming packet without decoding it: it
/// names the flow `decode` would, or nothing.
@Suite struct FlowTupleTests {
    static let body: [UInt8] = Array("{\"jsonrpc\":\"2.0\",\"id\":1}".utf8)
    static let v4 = FlowTuple(src: .v4(0xC0A8_010A), dst: .v4(0x0A00_0002), transport: .tcp, srcPort: 40000, dstPort: 8080)
    static let v6 = FlowTuple(src: .v6(0x2001_0db8_0000_0000, 1), dst: .v6(0x2001_0db8_0000_0000, 2), transport: .tcp,
                              srcPort: 1234, dstPort: 443)
    static let tcpV4 = Build.ipv4(payload: Build.tcp(payload: body))
    static let tcpV6 = Build.ipv6(payload: Build.tcp(src: 1234, dst: 443, payload: body))

    func tuple(_ frame: [UInt8], _ link: Int32) -> FlowTuple? {
        frame.withUnsafeBytes { PacketDecoder.flowTuple($0, linkType: link) }
    }

    @Test func everyLinkLayer() {
        #expect(tuple(Build.ethernet(type: 0x0800, payload: Self.tcpV4), LinkType.ethernet) == Self.v4)
        #expect(tuple(Build.ethernet(type: 0x86DD, payload: Self.tcpV6), LinkType.ethernet) == Self.v6)
        #expect(tuple(Build.ethernet(type: 0x0800, tags: [0x88A8, 0x8100], payload: Self.tcpV4), LinkType.ethernet) == Self.v4)
        #expect(tuple(Build.sll(proto: 0x0800, payload: Self.tcpV4), LinkType.linuxSLL) == Self.v4)
        #expect(tuple(Build.sll2(proto: 0x86DD, payload: Self.tcpV6), LinkType.linuxSLL2) == Self.v6)
        #expect(tuple(Build.le32(2) + Self.tcpV4, LinkType.null) == Self.v4)
        #expect(tuple(Build.be32(30) + Self.tcpV6, LinkType.loop) == Self.v6)
        #expect(tuple(Self.tcpV4, LinkType.raw) == Self.v4)
        #expect(tuple(Self.tcpV6, LinkType.ipv6) == Self.v6)
        let udp = Build.ipv4(proto: 17, payload: Build.udp(src: 5353, dst: 53, payload: [1, 2, 3]))
        #expect(tuple(udp, LinkType.raw)
                == FlowTuple(src: Self.v4.src, dst: Self.v4.dst, transport: .udp, srcPort: 5353, dstPort: 53))
    }

    /// What only `decode` can say (fragments, extension headers) or what is no TCP or UDP packet.
    @Test func nothingForWhatNeedsDecoding() {
        let body = Build.tcp(payload: Self.body)
        #expect(tuple(Build.ipv4(flagsOffset: 0x2000, payload: body), LinkType.raw) == nil) // more fragments
        #expect(tuple(Build.ipv4(flagsOffset: 0x0001, payload: body), LinkType.raw) == nil) // a later fragment
        #expect(tuple(Build.ipv4(flagsOffset: 0x0000, payload: body), LinkType.raw) == Self.v4) // DF clear, whole
        #expect(tuple(Build.ipv6(next: 0, payload: Build.ext(next: 6) + body), LinkType.raw) == nil)
        #expect(tuple(Build.ipv4(proto: 1, payload: [8, 0, 0, 0]), LinkType.raw) == nil) // ICMP
        #expect(tuple(Build.ipv4(ihlWords: 4, payload: body), LinkType.raw) == nil) // header shorter than 20
        #expect(tuple(Build.ethernet(type: 0x0806, payload: Self.tcpV4), LinkType.ethernet) == nil) // ARP
        #expect(tuple(Build.ethernet(type: 0x86DD, payload: Self.tcpV4), LinkType.ethernet) == nil) // version disagrees
        #expect(tuple(Self.tcpV4, 9999) == nil) // unknown link type
    }

    /// Every prefix of a frame: no read past its end, and a tuple only when the ports are there.
    @Test func everyPrefixIsSafe() {
        for (frame, link, portsEnd) in [(Build.ethernet(type: 0x0800, tags: [0x8100], payload: Self.tcpV4), LinkType.ethernet, 18 + 20 + 4),
                                        (Build.sll2(proto: 0x86DD, payload: Self.tcpV6), LinkType.linuxSLL2, 20 + 40 + 4)] {
            for n in 0...frame.count {
                let got = tuple(Array(frame.prefix(n)), link)
                #expect(got == (n >= portsEnd ? (link == LinkType.ethernet ? Self.v4 : Self.v6) : nil), "prefix \(n)")
            }
        }
    }

    /// Over every classic capture in Fixtures (the official SDKs' sessions, their link-layer
    /// variants, evasions, crafted frames): wherever both answer, the hint names the flow
    /// `decode` gives; and it answers for every packet `decode` gives that was not reassembled
    /// from fragments.
    @Test func agreesWithDecodeOnEveryFixture() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fixtures")
        let files = try #require(FileManager.default.enumerator(atPath: root.path)).compactMap { $0 as? String }
            .filter { $0.hasSuffix(".pcap") }.sorted()
        #expect(files.count > 40)
        var compared = 0
        for file in files {
            let data = try [UInt8](Data(contentsOf: root.appendingPathComponent(file)))
            guard data.count >= 24, data[0] == 0xD4 || data[0] == 0x4D, data[1] == 0xC3 || data[1] == 0x3C else { continue }
            let link = Int32(data[20]) | Int32(data[21]) << 8
            var decoder = PacketDecoder()
            var at = 24
            while data.count - at >= 16 {
                let caplen = Int(data[at + 8]) | Int(data[at + 9]) << 8 | Int(data[at + 10]) << 16 | Int(data[at + 11]) << 24
                guard caplen <= data.count - at - 16 else { break }
                data[(at + 16)..<(at + 16 + caplen)].withUnsafeBytes { frame in
                    let hint = PacketDecoder.flowTuple(frame, linkType: link)
                    guard let p = decoder.decode(frame, wireLength: frame.count, linkType: link, timestamp: .zero) else { return }
                    if p.fromFragments { return }
                    #expect(hint == p.flowTuple, "\(file), record at \(at)")
                    compared += 1
                }
                at += 16 + caplen
            }
        }
        #expect(compared > 40_000)
    }
}
