import SonarCore
import Testing
@testable import SonarDecode

/// IPv4 fragment reassembly: policy is first-wins on overlap, bounded by `DecodeLimits`.
@Suite struct FragmentTests {
    /// The transport datagram that gets fragmented: TCP header + 200 bytes.
    static let body = Build.bytes(200, seed: 3)
    static let datagram = Build.tcp(payload: body)

    /// One Ethernet/IPv4 frame carrying `datagram[offset ..< offset+length]`.
    static func frag(_ offset: Int, _ length: Int, more: Bool? = nil, id: Int = 0x4242, data: [UInt8] = datagram,
                     src: [UInt8] = Build.srcV4, proto: UInt8 = 6, ttl: UInt8 = 64) -> [UInt8] {
        let mf = more ?? (offset + length < data.count)
        let chunk = Array(data[offset..<offset + length])
        let ip = Build.ipv4(proto: proto, ttl: ttl, id: id, flagsOffset: (mf ? 0x2000 : 0) | (offset / 8),
                            src: src, payload: chunk)
        return Build.ethernet(type: 0x0800, payload: ip)
    }

    func feed(_ dec: inout PacketDecoder, _ frames: [[UInt8]], seconds: Int64 = 1000) -> [Decoded] {
        frames.compactMap { run(&dec, $0, link: LinkType.ethernet, seconds: seconds) }
    }

    func expectWhole(_ d: Decoded?, ttl: UInt8 = 64, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(d?.packet.fromFragments == true, sourceLocation: sourceLocation)
        #expect(d?.packet.transport == .tcp, sourceLocation: sourceLocation)
        #expect(d?.packet.srcPort == 40000 && d?.packet.dstPort == 8080, sourceLocation: sourceLocation)
        #expect(d?.packet.tcp.seq == 0x0102_0304, sourceLocation: sourceLocation)
        #expect(d?.packet.ttl == ttl, sourceLocation: sourceLocation)
        #expect(d?.payload == Self.body, sourceLocation: sourceLocation)
        #expect(d?.packet.payloadTruncated == false, sourceLocation: sourceLocation)
    }

    @Test func notAFragmentWithDontFragment() {
        var dec = PacketDecoder()
        let d = run(&dec, Build.ethernet(type: 0x0800, payload: Build.ipv4(flagsOffset: 0x4000, payload: Self.datagram)),
                    link: LinkType.ethernet)
        #expect(d?.packet.fromFragments == false)
        #expect(dec.counters["decode.ipv4_fragments"] == 0)
    }

    @Test func inOrder() {
        var dec = PacketDecoder()
        let out = feed(&dec, [Self.frag(0, 80), Self.frag(80, 80), Self.frag(160, 60)])
        #expect(out.count == 1)
        expectWhole(out.first)
        #expect(dec.counters["decode.ipv4_fragments"] == 3)
        #expect(dec.counters["decode.ipv4_fragments_reassembled"] == 1)
        #expect(dec.counters.values.count == 2)
        #expect(dec.fragmentBuffersInUse == 0 && dec.fragmentBytesInUse == 0)
    }

    @Test func outOfOrderTakesTTLOfFirstFragment() {
        var dec = PacketDecoder()
        let out = feed(&dec, [Self.frag(160, 60, ttl: 9), Self.frag(0, 80, ttl: 12), Self.frag(80, 80, ttl: 9)])
        #expect(out.count == 1)
        expectWhole(out.first, ttl: 12)
    }

    @Test func everyOrderOfFourFragments() {
        let frames = [Self.frag(0, 64), Self.frag(64, 64), Self.frag(128, 64), Self.frag(192, 28)]
        var orders: [[Int]] = [[]]
        for _ in 0..<4 {
            orders = orders.flatMap { o in (0..<4).filter { !o.contains($0) }.map { o + [$0] } }
        }
        #expect(orders.count == 24)
        for order in orders {
            var dec = PacketDecoder()
            let out = feed(&dec, order.map { frames[$0] })
            #expect(out.count == 1)
            expectWhole(out.first)
        }
    }

    @Test func partialOverlapDiscardsTheDatagram() {
        var dec = PacketDecoder()
        // A fragment 40..<120 whose first half overlaps bytes already received: Linux (and RFC
        // 5722) discard the whole datagram, so the sensor does too; the rest never completes.
        var forged = Self.datagram
        for i in 40..<80 { forged[i] = 0xEE }
        let out = feed(&dec, [Self.frag(0, 80), Self.frag(40, 80, more: true, data: forged),
                              Self.frag(120, 100)])
        #expect(out.isEmpty)
        #expect(dec.counters["decode.fragment_overlap"] == 1)
        #expect(dec.counters["decode.fragment_overlap_dropped"] == 1)
        #expect(dec.counters["decode.fragment_overlap_mismatch"] == 0)
        // The sender's retransmission, fragmented cleanly, is read whole.
        var clean = PacketDecoder()
        let again = feed(&clean, [Self.frag(0, 80), Self.frag(80, 80), Self.frag(160, 60)])
        #expect(again.count == 1)
        expectWhole(again.first)
    }

    @Test func fragmentCoveringSeveralReceivedRangesDiscardsTheDatagram() {
        var dec = PacketDecoder()
        var forged = Self.datagram
        for i in 0..<160 { forged[i] ^= 0xFF }
        let out = feed(&dec, [Self.frag(0, 40), Self.frag(80, 40), Self.frag(0, 160, data: forged), Self.frag(160, 60)])
        #expect(out.isEmpty)
        #expect(dec.counters["decode.fragment_overlap_dropped"] == 1)
    }

    @Test func duplicateWithOtherBytesIsIgnoredFirstWins() {
        var dec = PacketDecoder()
        var forged = Self.datagram
        for i in 0..<80 { forged[i] = 0xEE }
        let out = feed(&dec, [Self.frag(0, 80), Self.frag(0, 80, data: forged), Self.frag(80, 80), Self.frag(160, 60)])
        #expect(out.count == 1)
        expectWhole(out.first)
        #expect(dec.counters["decode.fragment_overlap"] == 1)
        #expect(dec.counters["decode.fragment_overlap_mismatch"] == 1)
        #expect(dec.counters["decode.fragment_overlap_dropped"] == 0)
    }

    @Test func duplicates() {
        var dec = PacketDecoder()
        let out = feed(&dec, [Self.frag(0, 80), Self.frag(0, 80), Self.frag(80, 80), Self.frag(80, 80), Self.frag(160, 60)])
        #expect(out.count == 1)
        expectWhole(out.first)
        #expect(dec.counters["decode.fragment_overlap"] == 2)
        #expect(dec.counters["decode.fragment_overlap_mismatch"] == 0)
        // A duplicate arriving after completion starts a new datagram that never completes.
        _ = feed(&dec, [Self.frag(160, 60)])
        #expect(dec.fragmentBuffersInUse == 1)
    }

    @Test func differentIDsAndSourcesDoNotMix() {
        var dec = PacketDecoder()
        let out = feed(&dec, [Self.frag(0, 80, id: 1), Self.frag(80, 80, id: 2), Self.frag(160, 60, id: 1),
                              Self.frag(80, 80, id: 1, src: [1, 1, 1, 1]), Self.frag(80, 80, id: 1, proto: 17)])
        #expect(out.isEmpty)
        #expect(dec.fragmentBuffersInUse == 4)
        let done = feed(&dec, [Self.frag(80, 80, id: 1)])
        #expect(done.count == 1)
        expectWhole(done.first)
        #expect(dec.fragmentBuffersInUse == 3)
    }

    @Test func tooManyDatagramsEvictsOldest() {
        var limits = DecodeLimits()
        limits.maxFragmentBuffers = 3
        var dec = PacketDecoder(limits: limits)
        for id in 1...5 { _ = feed(&dec, [Self.frag(0, 80, id: id)], seconds: 1000 + Int64(id)) }
        #expect(dec.fragmentBuffersInUse == 3)
        #expect(dec.counters["decode.fragment_limit"] == 2)
        // Datagrams 1 and 2 were evicted: completing them is impossible, 5 still works.
        #expect(feed(&dec, [Self.frag(80, 80, id: 1), Self.frag(160, 60, id: 1)], seconds: 1010).isEmpty)
        let done = feed(&dec, [Self.frag(80, 80, id: 5), Self.frag(160, 60, id: 5)], seconds: 1010)
        #expect(done.count == 1)
    }

    @Test func byteLimitEvictsOldestThenRefuses() {
        var limits = DecodeLimits()
        limits.maxFragmentBytesTotal = 200
        var dec = PacketDecoder(limits: limits)
        _ = feed(&dec, [Self.frag(0, 80, id: 1)], seconds: 1)
        _ = feed(&dec, [Self.frag(0, 80, id: 2)], seconds: 2)
        #expect(dec.fragmentBytesInUse == 160)
        _ = feed(&dec, [Self.frag(0, 80, id: 3)], seconds: 3)  // evicts id 1
        #expect(dec.fragmentBytesInUse == 160)
        #expect(dec.counters["decode.fragment_limit"] == 1)
        // A fragment whose datagram alone needs more than the limit is refused after evicting everything else.
        _ = feed(&dec, [Self.frag(160, 60, id: 3)], seconds: 4)
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.fragmentBytesInUse == 0)
        #expect(dec.counters["decode.fragment_limit"] == 3)
    }

    @Test func fragmentsPerDatagramLimit() {
        var limits = DecodeLimits()
        limits.maxFragmentsPerDatagram = 4
        var dec = PacketDecoder(limits: limits)
        let frames = stride(from: 0, to: 200, by: 40).map { Self.frag($0, 40) } + [Self.frag(200, 20)]
        #expect(feed(&dec, frames).isEmpty)
        #expect(dec.counters["decode.fragment_limit"] == 1)
        var roomy = PacketDecoder()
        #expect(feed(&roomy, frames).count == 1)
    }

    @Test func timeoutByPacketTime() {
        var dec = PacketDecoder()
        _ = feed(&dec, [Self.frag(0, 80)], seconds: 100)
        _ = feed(&dec, [Self.frag(80, 80)], seconds: 129)
        #expect(dec.fragmentBuffersInUse == 1)
        // 31 s after the first fragment: the datagram is gone, the late fragment starts a new one.
        #expect(feed(&dec, [Self.frag(160, 60)], seconds: 131).isEmpty)
        #expect(dec.counters["decode.fragment_timeout"] == 1)
        #expect(dec.fragmentBuffersInUse == 1)
        // An unrelated packet much later sweeps the table.
        _ = run(&dec, Build.ipv4(payload: Build.tcp()), link: LinkType.raw, seconds: 200)
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.counters["decode.fragment_timeout"] == 2)
    }

    @Test func explicitExpiry() {
        var dec = PacketDecoder()
        _ = feed(&dec, [Self.frag(0, 80)], seconds: 100)
        dec.expireFragments(now: Timestamp(seconds: 110, microseconds: 0))
        #expect(dec.fragmentBuffersInUse == 1)
        dec.expireFragments(now: Timestamp(seconds: 131, microseconds: 0))
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.counters["decode.fragment_timeout"] == 1)
    }

    @Test func badFragments() {
        var dec = PacketDecoder()
        _ = feed(&dec, [Self.frag(0, 20, more: true)])   // not a multiple of 8
        _ = feed(&dec, [Self.frag(0, 0, more: true)])    // empty
        #expect(dec.counters["decode.fragment_bad"] == 2)
        // Offset 8184 * 8 + 200 bytes > 65535.
        let huge = Build.ethernet(type: 0x0800, payload: Build.ipv4(flagsOffset: 0x1FFF, payload: Build.bytes(200)))
        #expect(run(&dec, huge, link: LinkType.ethernet) == nil)
        #expect(dec.counters["decode.fragment_too_big"] == 1)
        #expect(dec.fragmentBuffersInUse == 0)
    }

    @Test func inconsistentLastFragment() {
        var dec = PacketDecoder()
        _ = feed(&dec, [Self.frag(160, 60)])                       // end fixed at 220
        _ = feed(&dec, [Self.frag(160, 40, more: false)])          // claims end 200
        _ = feed(&dec, [Self.frag(200, 8, more: true, data: Self.datagram + Build.bytes(8))]) // inside, fine: overlap
        #expect(dec.counters["decode.fragment_inconsistent"] == 1)
        var data = Self.datagram + Build.bytes(16)
        data[0] = data[0]
        _ = feed(&dec, [Self.frag(216, 16, more: true, data: data)]) // past the end
        #expect(dec.counters["decode.fragment_inconsistent"] == 2)
        let out = feed(&dec, [Self.frag(0, 80), Self.frag(80, 80)])
        #expect(out.count == 1)
        expectWhole(out.first)
    }

    @Test func truncatedFragmentIsNotUsed() {
        var dec = PacketDecoder()
        let f = Self.frag(0, 80)
        #expect(run(&dec, Array(f.prefix(60)), link: LinkType.ethernet, wire: f.count) == nil)
        #expect(dec.counters["decode.fragment_truncated"] == 1)
        #expect(dec.fragmentBuffersInUse == 0)
    }

    @Test func reassembledPayloadSurvivesUntilNextDecode() {
        var dec = PacketDecoder()
        _ = feed(&dec, [Self.frag(0, 80), Self.frag(80, 80)])
        let f = Self.frag(160, 60)
        f.withUnsafeBytes { buf in
            guard let p = dec.decode(buf, wireLength: buf.count, linkType: LinkType.ethernet, timestamp: Timestamp(seconds: 1000, microseconds: 0))
            else { Issue.record("not reassembled"); return }
            // A copy of the decoder that reassembles something else must not disturb `p.payload`.
            var copy = dec
            var other = Self.datagram
            for i in 20..<other.count { other[i] = 0x11 }
            _ = feed(&copy, [Self.frag(0, 80, data: other), Self.frag(80, 80, data: other), Self.frag(160, 60, data: other)])
            #expect(copy.counters["decode.ipv4_fragments_reassembled"] == 2)
            #expect(Array(p.payload) == Self.body)
            #expect(p.fromFragments)
        }
    }
}

@Suite struct FragmentClockTests {
    @Test func clockGoingBackwardsDoesNotStallTheSweep() {
        var dec = PacketDecoder()
        let first = Build.ipv4(flagsOffset: 0x2000, payload: Build.bytes(16))
        let plain = Build.ipv4(payload: Build.tcp())
        _ = run(&dec, first, link: LinkType.raw, seconds: 1000)
        _ = run(&dec, plain, link: LinkType.raw, seconds: 1002)   // arms the next sweep at 1003
        _ = run(&dec, plain, link: LinkType.raw, seconds: 10)     // a new file starting earlier
        #expect(dec.fragmentBuffersInUse == 1)
        _ = run(&dec, plain, link: LinkType.raw, seconds: 20)     // would have waited for 1003 without re-arming
        #expect(dec.fragmentBuffersInUse == 1)
        _ = run(&dec, plain, link: LinkType.raw, seconds: 1031)
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.counters[DecodeCounter.fragmentTimeout] == 1)
    }
}

@Suite struct CounterNameTests {
    /// The integrator and the stats event rely on these exact names.
    @Test func names() {
        #expect(DecodeCounter.truncatedIP == "decode.truncated_ip")
        #expect(DecodeCounter.unsupportedLinkType == "decode.unsupported_linktype")
        #expect(DecodeCounter.ipv4BadHeader == "decode.ipv4_bad_header")
        #expect(DecodeCounter.ipv6ExtHeadersBad == "decode.ipv6_ext_headers_bad")
        #expect(DecodeCounter.notTCPUDP == "decode.not_tcp_udp")
        #expect(DecodeCounter.ipv4Fragments == "decode.ipv4_fragments")
        #expect(DecodeCounter.ipv4FragmentsReassembled == "decode.ipv4_fragments_reassembled")
        #expect(DecodeCounter.fragmentLimit == "decode.fragment_limit")
        #expect(DecodeCounter.fragmentOverlap == "decode.fragment_overlap")
        #expect(DecodeCounter.fragmentTimeout == "decode.fragment_timeout")
    }

    @Test func linkTypeValues() {
        #expect([LinkType.null, LinkType.ethernet, LinkType.raw, LinkType.raw14, LinkType.loop, LinkType.linuxSLL,
                 LinkType.linkTypeRaw, LinkType.ipv4, LinkType.ipv6, LinkType.linuxSLL2] == [0, 1, 12, 14, 108, 113, 101, 228, 229, 276])
    }
}

@Suite struct NonTransportFragmentTests {
    @Test func icmpFragmentsAreNotBuffered() {
        var dec = PacketDecoder()
        _ = run(&dec, Build.ipv4(proto: 1, flagsOffset: 0x2000, payload: Build.bytes(64)), link: LinkType.raw)
        #expect(dec.fragmentBuffersInUse == 0)
        #expect(dec.counters[DecodeCounter.ipv4Fragments] == 1)
        #expect(dec.counters[DecodeCounter.notTCPUDP] == 1)
    }
}

@Suite struct UDPFragmentTests {
    @Test func udpDatagramReassembled() {
        var dec = PacketDecoder()
        let body = Build.bytes(1000, seed: 1)
        let udp = Build.udp(src: 53, dst: 33000, payload: body)
        var out: [Decoded] = []
        for off in stride(from: 0, to: udp.count, by: 256) {
            let len = min(256, udp.count - off)
            let ip = Build.ipv4(proto: 17, ttl: 50, id: 77, flagsOffset: (off + len < udp.count ? 0x2000 : 0) | off / 8,
                                payload: Array(udp[off..<off + len]))
            if let d = run(&dec, Build.sll(proto: 0x0800, payload: ip), link: LinkType.linuxSLL) { out.append(d) }
        }
        #expect(out.count == 1)
        #expect(out.first?.packet.transport == .udp)
        #expect(out.first?.packet.srcPort == 53 && out.first?.packet.dstPort == 33000)
        #expect(out.first?.payload == body)
        #expect(out.first?.packet.payloadLength == 1000)
        #expect(out.first?.packet.ttl == 50)
        #expect(out.first?.packet.fromFragments == true)
        #expect(out.first?.payloadInsideInput == false)  // it lives in the decoder's storage
        #expect(dec.counters[DecodeCounter.ipv4Fragments] == 4)
    }
}
