import SonarCore
import Testing
@testable import SonarDecode

func total(_ c: Counters) -> Int { c.values.values.reduce(0, +) }

@Suite struct RobustnessTests {
    struct Sample: Sendable, CustomTestStringConvertible {
        var name: String
        var link: Int32
        var frame: [UInt8]
        /// Offset of the transport payload in the frame, and the payload.
        var payloadStart: Int
        var payload: [UInt8]
        var testDescription: String { name }
    }

    static let samples: [Sample] = {
        var s: [Sample] = []
        let body = Build.bytes(37, seed: 9)
        let tcpOpts = Build.tcp(options: [2, 4, 5, 0xB4, 1, 1, 1, 1], payload: body)
        s.append(Sample(name: "ethernet v4 tcp options", link: LinkType.ethernet,
                        frame: Build.ethernet(type: 0x0800, payload: Build.ipv4(payload: tcpOpts)),
                        payloadStart: 14 + 20 + 28, payload: body))
        s.append(Sample(name: "ethernet padded v4 tcp", link: LinkType.ethernet,
                        frame: Build.ethernet(type: 0x0800, payload: Build.ipv4(payload: Build.tcp(payload: [1]))) + [0, 0, 0, 0, 0],
                        payloadStart: 14 + 40, payload: [1]))
        let v6chain = Build.ext(next: 60, lengthUnits: 1) + Build.ext(next: 17) + Build.udp(payload: body)
        s.append(Sample(name: "qinq v6 hbh dstopts udp", link: LinkType.ethernet,
                        frame: Build.ethernet(type: 0x86DD, tags: [0x88A8, 0x8100], payload: Build.ipv6(next: 0, payload: v6chain)),
                        payloadStart: 22 + 40 + 24 + 8, payload: body))
        s.append(Sample(name: "sll2 v4 udp", link: LinkType.linuxSLL2,
                        frame: Build.sll2(proto: 0x0800, payload: Build.ipv4(proto: 17, payload: Build.udp(payload: body))),
                        payloadStart: 20 + 28, payload: body))
        s.append(Sample(name: "sll v6 tcp", link: LinkType.linuxSLL,
                        frame: Build.sll(proto: 0x86DD, payload: Build.ipv6(payload: Build.tcp(payload: body))),
                        payloadStart: 16 + 60, payload: body))
        s.append(Sample(name: "null v6 ah tcp", link: LinkType.null,
                        frame: Build.le32(30) + Build.ipv6(next: 51, payload: Build.ah(next: 6) + Build.tcp(payload: body)),
                        payloadStart: 4 + 40 + 24 + 20, payload: body))
        s.append(Sample(name: "raw v4 options tcp", link: LinkType.raw,
                        frame: Build.ipv4(options: Build.bytes(8), payload: Build.tcp(payload: body)),
                        payloadStart: 28 + 20, payload: body))
        s.append(Sample(name: "raw v6 atomic fragment udp", link: LinkType.ipv6,
                        frame: Build.ipv6(next: 44, payload: Build.fragment6(next: 17, offset: 0, more: false, id: 1) + Build.udp(payload: body)),
                        payloadStart: 40 + 8 + 8, payload: body))
        return s
    }()

    /// Every prefix of every sample, as snaplen would cut it: headers cut give nil and one counter,
    /// payload cut gives exactly the captured bytes, flagged truncated; nothing is read past the prefix
    /// (the buffer is exactly the prefix; out-of-bounds reads trap in debug builds).
    @Test(arguments: samples)
    func everyPrefix(sample: Sample) {
        let full = sample.frame.count
        for n in 0...full {
            var dec = PacketDecoder()
            let d = run(&dec, Array(sample.frame.prefix(n)), link: sample.link, wire: full)
            if n < sample.payloadStart {
                #expect(d == nil, "prefix \(n)")
                #expect(total(dec.counters) == 1, "prefix \(n): \(dec.counters.values)")
            } else {
                let got = min(n - sample.payloadStart, sample.payload.count)
                #expect(d?.payload == Array(sample.payload.prefix(got)), "prefix \(n)")
                #expect(d?.packet.payloadTruncated == (got < sample.payload.count), "prefix \(n)")
                #expect(d?.packet.payloadLength == sample.payload.count, "prefix \(n)")
                #expect(d?.payloadInsideInput == true, "prefix \(n)")
                #expect(dec.counters.isEmpty, "prefix \(n): \(dec.counters.values)")
            }
        }
    }

    static let linkTypes: [Int32] = [LinkType.null, LinkType.ethernet, LinkType.raw, LinkType.raw14, LinkType.loop,
                                     LinkType.linuxSLL, LinkType.linkTypeRaw, LinkType.ipv4, LinkType.ipv6,
                                     LinkType.linuxSLL2, 2, 9999]

    /// Random bytes on every link type: never crashes, every nil is counted, payloads stay in the input.
    @Test func randomGarbage() {
        var rng = SplitMix64(state: 0x5EED)
        var dec = PacketDecoder()
        var decoded = 0
        for i in 0..<40_000 {
            let link = Self.linkTypes[i % Self.linkTypes.count]
            var frame = (0..<Int.random(in: 0..<160, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            // Steer half of the inputs past the link layer so the IP and transport code gets garbage too.
            if i % 2 == 0 && frame.count > 40 {
                switch link {
                case LinkType.ethernet: frame[12] = Bool.random(using: &rng) ? 0x08 : 0x86; frame[13] = frame[12] == 0x08 ? 0 : 0xDD
                case LinkType.null: frame[0] = 2; frame[1] = 0; frame[2] = 0; frame[3] = 0
                default: break
                }
                let ip = link == LinkType.ethernet ? 14 : link == LinkType.null ? 4 : 0
                if frame[ip] >> 4 == 4 || frame[ip] >> 4 == 6 || Bool.random(using: &rng) {
                    frame[ip] = Bool.random(using: &rng) ? 0x45 : 0x60
                    if frame[ip] == 0x45 {
                        frame[ip + 9] = Bool.random(using: &rng) ? 6 : 17
                        if Bool.random(using: &rng) {
                            // Plausible length, not a fragment.
                            frame[ip + 2] = UInt8((frame.count - ip) >> 8); frame[ip + 3] = UInt8((frame.count - ip) & 0xFF)
                            frame[ip + 6] = 0x40; frame[ip + 7] = 0
                        }
                    }
                }
            }
            let before = total(dec.counters)
            let d = run(&dec, frame, link: link, wire: frame.count + Int.random(in: 0..<3, using: &rng), seconds: Int64(i))
            if let d {
                decoded += 1
                #expect(d.packet.payload.count <= d.packet.payloadLength)
                if !d.packet.fromFragments { #expect(d.payloadInsideInput) }
            } else {
                #expect(total(dec.counters) > before)
            }
        }
        #expect(decoded > 500)
    }

    /// Valid packets with a few bytes changed: deeper paths than pure garbage reaches.
    @Test func mutatedPackets() {
        var rng = SplitMix64(state: 42)
        var dec = PacketDecoder()
        for i in 0..<30_000 {
            let sample = Self.samples[i % Self.samples.count]
            var frame = sample.frame
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                frame[Int.random(in: 0..<frame.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { frame = Array(frame.prefix(Int.random(in: 0...frame.count, using: &rng))) }
            let before = total(dec.counters)
            if let d = run(&dec, frame, link: sample.link, wire: sample.frame.count, seconds: Int64(i / 10)) {
                #expect(d.packet.payload.count <= d.packet.payloadLength)
                if !d.packet.fromFragments { #expect(d.payloadInsideInput) }
            } else {
                #expect(total(dec.counters) > before)
            }
        }
    }

    /// Random IPv4 and IPv6 fragments from a small id space under tight limits: the bounds hold.
    @Test func randomFragmentsStayWithinLimits() {
        var limits = DecodeLimits()
        limits.maxFragmentBuffers = 8
        limits.maxFragmentBytesTotal = 4096
        limits.maxFragmentsPerDatagram = 12
        limits.fragmentTimeoutSeconds = 5
        var dec = PacketDecoder(limits: limits)
        var rng = SplitMix64(state: 7)
        var reassembled = 0
        for i in 0..<20_000 {
            let offset = Int.random(in: 0..<40, using: &rng) * 8
            let length = Int.random(in: 0..<8, using: &rng) * 8 + (Bool.random(using: &rng) ? 0 : Int.random(in: 0..<8, using: &rng))
            let more = Int.random(in: 0..<4, using: &rng) != 0
            let id = Int.random(in: 0..<12, using: &rng)
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let frame: [UInt8]
            if i % 3 == 0 {
                frame = Build.ipv6(next: 44, payload: Build.fragment6(next: 6, offset: offset, more: more, id: UInt32(id)) + data)
            } else {
                frame = Build.ipv4(proto: Bool.random(using: &rng) ? 6 : 17, id: id,
                                   flagsOffset: (more ? 0x2000 : 0) | offset / 8, payload: data)
            }
            if let d = run(&dec, frame, link: LinkType.raw, seconds: Int64(i / 4)) {
                reassembled += 1
                #expect(d.packet.fromFragments == (offset != 0 || more))
                #expect(d.packet.payload.count <= d.packet.payloadLength)
            }
            #expect(dec.fragmentBuffersInUse <= 8)
            #expect(dec.fragmentBytesInUse <= 4096)
            #expect(dec.fragmentBytesInUse >= 0)
        }
        #expect(dec.counters["decode.fragment_limit"] > 0)
        #expect(dec.counters["decode.fragment_overlap"] > 0)
        #expect(dec.counters["decode.fragment_timeout"] > 0)
        #expect(reassembled > 0)
    }
}
