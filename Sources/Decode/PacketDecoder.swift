import SonarCore

/// Decoder-owned storage for the last reassembled datagram, so that a `DecodedPacket.payload`
/// built from fragments stays valid until the next `decode()` call.
///
/// Raw memory (not a `[UInt8]`) because the pointer handed out must outlive any closure scope.
/// It is only written when uniquely referenced (copy-on-write, see `PacketDecoder.reassembled`),
/// which is why sharing it between copies of a decoder, even across threads, is safe.
final class ReassemblyStorage: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(capacity: Int) {
        bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: capacity, alignment: 8)
    }

    deinit { bytes.deallocate() }
}

/// Decodes captured frames (link layer → IPv4/IPv6 → TCP/UDP) into `DecodedPacket` views.
///
/// One decoder per worker, reused for every packet: the normal path allocates nothing and copies
/// nothing; only IP fragment reassembly holds bytes across packets, within `DecodeLimits`.
/// Every packet it cannot use, and every anomaly, increments a named counter in `counters`;
/// a `nil` result always increments exactly one "drop reason" counter (or a fragment counter,
/// for a fragment held for reassembly).
///
/// Handles: Ethernet (any number of 802.1Q / 802.1ad / 0x9100 tags), Linux cooked v1 and v2,
/// BSD NULL / LOOP (either byte order), raw IP (12, 14, 101, 228, 229); IPv4 with options and
/// fragments; IPv6 with Hop-by-Hop, Routing, Destination Options, AH, Mobility/HIP/Shim6 and
/// Fragment headers (ESP and No Next Header end the walk); TCP with options, UDP.
/// IPv4 and IPv6 fragments are both reassembled, first-wins on overlap (see `DecodeCounter` and
/// the policy notes on the reassembler). IPv4 fragments are buffered only for TCP and UDP; IPv6
/// fragments always (the upper protocol may sit behind headers inside the fragmentable part).
/// Not handled: MPLS, PPPoE, LLC/SNAP ("decode.not_ip"); tunnels are not opened (GRE and IP-in-IP
/// count "decode.not_tcp_udp", VXLAN comes out as its outer UDP packet).
///
/// Not checked, by design: IP/TCP/UDP checksums (offloading makes them wrong on the capturing host,
/// and an IDS must see what the receiver may accept), IPv4 options (skipped by the header length).
///
/// Copy semantics: a decoder is a value. A copy shares the reassembled-datagram storage until
/// either side reassembles again (copy-on-write) and carries its own copy of the fragment table.
/// A payload returned by one copy is not disturbed by `decode()` calls on another.
public struct PacketDecoder: Sendable {
    public var counters = Counters()
    public let limits: DecodeLimits
    private var fragments: FragmentReassembler
    private var reassembled: ReassemblyStorage?

    public init(limits: DecodeLimits = .init()) {
        self.limits = limits
        self.fragments = FragmentReassembler(limits: limits)
    }

    /// Datagrams currently being reassembled.
    public var fragmentBuffersInUse: Int { fragments.table.count }
    /// Bytes held for reassembly.
    public var fragmentBytesInUse: Int { fragments.bytesInUse }

    /// Drops fragment buffers that have timed out by `now` (packet time). `decode()` does this by
    /// itself; call it at the end of a capture or when the capture is idle.
    public mutating func expireFragments(now: Timestamp) {
        fragments.expire(now: now, counters: &counters)
    }

    /// Decodes one captured frame.
    /// - Parameters:
    ///   - bytes: the captured bytes (caplen, never the wire length).
    ///   - wireLength: the original length on the wire (values below `bytes.count` are taken as `bytes.count`).
    ///   - linkType: the capture's link type (`LinkType`).
    ///   - timestamp: packet time; also drives fragment timeouts.
    /// - Returns: the TCP/UDP packet, or nil when the frame is not one (counted in `counters`).
    public mutating func decode(_ bytes: UnsafeRawBufferPointer, wireLength: Int, linkType: Int32,
                                timestamp: Timestamp) -> DecodedPacket? {
        fragments.expireIfDue(now: timestamp, counters: &counters)
        let wire = max(wireLength, bytes.count)
        guard let (l3, version) = linkLayer(bytes, linkType: linkType) else { return nil }
        guard l3 < bytes.count else {
            counters.add(DecodeCounter.truncatedIP)
            return nil
        }
        let ip = UnsafeRawBufferPointer(rebasing: bytes[l3...])
        let nibble = ip[0] >> 4
        if version != 0 && nibble != version {
            counters.add(DecodeCounter.badIPVersion)
            return nil
        }
        var ctx = Context(timestamp: timestamp, wireLength: wire, wireAvailable: wire - l3)
        switch nibble {
        case 4: return ipv4(ip, &ctx)
        case 6: return ipv6(ip, &ctx)
        default:
            counters.add(DecodeCounter.badIPVersion)
            return nil
        }
    }

    /// What the IP layer learnt, handed to the transport layer.
    struct Context {
        var timestamp: Timestamp
        var wireLength: Int
        /// Bytes of the IP packet that were on the wire (captured or not).
        var wireAvailable: Int
        var src = IPAddress.v4(0)
        var dst = IPAddress.v4(0)
        var ttl: UInt8 = 0
        var fromFragments = false
    }

    // MARK: - Link layer

    /// Why a frame has no IP packet at its link layer.
    enum LinkFailure: Error { case truncated, notIP, unsupported }

    /// Returns the offset of the IP header and the IP version the link layer announced (0: any).
    @inline(__always)
    private mutating func linkLayer(_ b: UnsafeRawBufferPointer, linkType: Int32) -> (Int, UInt8)? {
        switch Self.link(b, linkType: linkType) {
        case .success(let found): return found
        case .failure(.truncated): counters.add(DecodeCounter.truncatedLink)
        case .failure(.notIP): counters.add(DecodeCounter.notIP)
        case .failure(.unsupported): counters.add(DecodeCounter.unsupportedLinkType)
        }
        return nil
    }

    /// The link layer of `b`: the IP header's offset and the version it announced (0: any).
    @inline(__always)
    static func link(_ b: UnsafeRawBufferPointer, linkType: Int32) -> Result<(Int, UInt8), LinkFailure> {
        switch linkType {
        case LinkType.ethernet:
            guard b.count >= 14 else { return .failure(.truncated) }
            return etherType(b, type: b.readBE16(at: 12), next: 14)
        case LinkType.linuxSLL:
            guard b.count >= 16 else { return .failure(.truncated) }
            return etherType(b, type: b.readBE16(at: 14), next: 16)
        case LinkType.linuxSLL2:
            guard b.count >= 20 else { return .failure(.truncated) }
            // The protocol field is at offset 0; tags, if any, follow the 20-byte header.
            return etherType(b, type: b.readBE16(at: 0), next: 20)
        case LinkType.null, LinkType.loop:
            guard b.count >= 4 else { return .failure(.truncated) }
            // NULL is in the capturing host's byte order, LOOP in network order: accept both.
            let be = b.readBE32(at: 0), le = b.readLE32(at: 0)
            if be == 2 || le == 2 { return .success((4, 4)) }
            if isAFInet6(be) || isAFInet6(le) { return .success((4, 6)) }
            return .failure(.notIP)
        case LinkType.raw, LinkType.raw14, LinkType.linkTypeRaw:
            return .success((0, 0))
        case LinkType.ipv4:
            return .success((0, 4))
        case LinkType.ipv6:
            return .success((0, 6))
        default:
            return .failure(.unsupported)
        }
    }

    /// AF_INET6 on Linux (10), the BSDs (24), FreeBSD/DragonFly (28) and macOS (30).
    private static func isAFInet6(_ v: UInt32) -> Bool { v == 10 || v == 24 || v == 28 || v == 30 }

    /// 802.1Q, 802.1ad and the pre-standard QinQ type.
    private static func isVLAN(_ t: UInt16) -> Bool { t == 0x8100 || t == 0x88A8 || t == 0x9100 }

    private static func ipVersion(forEtherType t: UInt16) -> UInt8? {
        switch t {
        case 0x0800: return 4
        case 0x86DD: return 6
        default: return nil
        }
    }

    /// Follows the EtherType `type` (read just before offset `next`) through any number of VLAN
    /// tags (4 bytes each: TCI, inner type) to IPv4 or IPv6.
    private static func etherType(_ b: UnsafeRawBufferPointer, type first: UInt16,
                                  next start: Int) -> Result<(Int, UInt8), LinkFailure> {
        var type = first
        var next = start
        while isVLAN(type) {
            // Tag: 2 bytes TCI, then the inner EtherType.
            guard next + 4 <= b.count else { return .failure(.truncated) }
            type = b.readBE16(at: next + 2)
            next += 4
        }
        guard let v = ipVersion(forEtherType: type) else { return .failure(.notIP) }
        return .success((next, v))
    }

    // MARK: - A coming packet's flow

    /// The addresses, ports and transport of a frame that is one plain TCP or UDP packet (not a
    /// fragment; IPv6 without extension headers), read without decoding it and without counting
    /// anything; nil for anything else. A hint of which flow a coming packet belongs to (the
    /// flow table fetches it ahead): `decode` still decides every packet, and agrees with this
    /// wherever this answers (`FlowTupleTests`).
    public static func flowTuple(_ b: UnsafeRawBufferPointer, linkType: Int32) -> FlowTuple? {
        guard case .success(let (l3, version)) = link(b, linkType: linkType), l3 < b.count else { return nil }
        let nibble = b[l3] >> 4
        guard version == 0 || nibble == version else { return nil }
        let src: IPAddress, dst: IPAddress, proto: UInt8, start: Int
        switch nibble {
        case 4:
            guard b.count - l3 >= 20 else { return nil }
            let ihl = Int(b[l3] & 0x0F) * 4
            // Fragments (either flag or an offset) are left to reassembly.
            guard ihl >= 20, b.readBE16(at: l3 + 6) & 0x3FFF == 0 else { return nil }
            src = .v4(b.readBE32(at: l3 + 12))
            dst = .v4(b.readBE32(at: l3 + 16))
            proto = b[l3 + 9]
            start = l3 + ihl
        case 6:
            guard b.count - l3 >= 40 else { return nil }
            let ip = UnsafeRawBufferPointer(rebasing: b[l3...])
            src = .read(v6: ip, at: 8)
            dst = .read(v6: ip, at: 24)
            proto = ip[6]
            start = l3 + 40
        default:
            return nil
        }
        guard proto == 6 || proto == 17, start + 4 <= b.count else { return nil }
        return FlowTuple(src: src, dst: dst, transport: proto == 6 ? .tcp : .udp,
                         srcPort: b.readBE16(at: start), dstPort: b.readBE16(at: start + 2))
    }

    // MARK: - IPv4

    @inline(__always)
    private mutating func ipv4(_ ip: UnsafeRawBufferPointer, _ ctx: inout Context) -> DecodedPacket? {
        guard ip.count >= 20 else {
            counters.add(DecodeCounter.truncatedIP)
            return nil
        }
        let ihl = Int(ip[0] & 0x0F) * 4
        guard ihl >= 20 else {
            counters.add(DecodeCounter.ipv4BadHeader)
            return nil
        }
        guard ihl <= ip.count else {
            counters.add(DecodeCounter.truncatedIP)
            return nil
        }
        var total = Int(ip.readBE16(at: 2))
        if total == 0 {
            // TSO / BIG TCP captures on the sending host carry 0: the frame gives the length.
            counters.add(DecodeCounter.ipv4ZeroLength)
            total = ctx.wireAvailable
        }
        guard total >= ihl else {
            counters.add(DecodeCounter.ipv4BadHeader)
            return nil
        }
        if total > ctx.wireAvailable { counters.add(DecodeCounter.ipLengthExceedsFrame) }
        ctx.src = .v4(ip.readBE32(at: 12))
        ctx.dst = .v4(ip.readBE32(at: 16))
        ctx.ttl = ip[8]
        let proto = ip[9]
        let fragField = ip.readBE16(at: 6)
        let moreFragments = fragField & 0x2000 != 0
        let fragOffset = Int(fragField & 0x1FFF) * 8

        if moreFragments || fragOffset != 0 {
            counters.add(DecodeCounter.ipv4Fragments)
            // Only TCP and UDP are worth the memory (large ICMP echoes are the usual fragments).
            guard proto == 6 || proto == 17 else {
                counters.add(DecodeCounter.notTCPUDP)
                return nil
            }
            guard total <= ip.count else {
                // Part of the fragment was not captured: it cannot take part in reassembly.
                counters.add(DecodeCounter.fragmentTruncated)
                return nil
            }
            let key = FragmentKey(src: ctx.src, dst: ctx.dst, id: UInt32(ip.readBE16(at: 4)), proto: proto)
            let frag = UnsafeRawBufferPointer(rebasing: ip[ihl..<total])
            guard let dg = fragments.add(key: key, offset: fragOffset, moreFragments: moreFragments, fragment: frag,
                                         ttl: ctx.ttl, nextHeader: proto, now: ctx.timestamp, counters: &counters)
            else { return nil }
            counters.add(DecodeCounter.ipv4FragmentsReassembled)
            let data = store(dg)
            ctx.ttl = dg.ttl
            ctx.fromFragments = true
            return transport(proto, data, start: 0, claimedEnd: data.count, &ctx)
        }
        return transport(proto, ip, start: ihl, claimedEnd: total, &ctx)
    }

    /// Copies a completed datagram into decoder-owned storage (copy-on-write) and returns a view of it.
    private mutating func store(_ dg: FragmentDatagram) -> UnsafeRawBufferPointer {
        let length = min(dg.totalLength ?? 0, dg.data.count)
        if !isKnownUniquelyReferenced(&reassembled) {
            reassembled = ReassemblyStorage(capacity: FragmentReassembler.maxDatagram)
        }
        guard let storage = reassembled, length <= storage.bytes.count else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        dg.data.withUnsafeBytes { src in
            if let s = src.baseAddress, let d = storage.bytes.baseAddress, length > 0 {
                d.copyMemory(from: s, byteCount: length)
            }
        }
        return UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(storage.bytes)[0..<length])
    }

    // MARK: - IPv6

    private mutating func ipv6(_ ip: UnsafeRawBufferPointer, _ ctx: inout Context) -> DecodedPacket? {
        guard ip.count >= 40 else {
            counters.add(DecodeCounter.truncatedIP)
            return nil
        }
        var total = 40 + Int(ip.readBE16(at: 4))
        if total == 40 && ip[6] != 59 {
            // Jumbogram or BIG TCP GSO capture: payload length 0, the frame gives the length.
            counters.add(DecodeCounter.ipv6ZeroLength)
            total = max(40, ctx.wireAvailable)
        }
        if total > ctx.wireAvailable { counters.add(DecodeCounter.ipLengthExceedsFrame) }
        ctx.src = .read(v6: ip, at: 8)
        ctx.dst = .read(v6: ip, at: 24)
        ctx.ttl = ip[7]

        switch walkExtensions(ip, next: ip[6], start: 40, claimedEnd: total) {
        case nil:
            return nil
        case .transport(let proto, let offset):
            return transport(proto, ip, start: offset, claimedEnd: total, &ctx)
        case .fragment(let at):
            // Fragment header: next header, reserved, offset (13 bits) | res | M, identification.
            let next = ip[at]
            let field = ip.readBE16(at: at + 2)
            let offset = Int(field & 0xFFF8)
            let more = field & 1 != 0
            let dataStart = at + 8
            if offset == 0 && !more {
                // Atomic fragment (RFC 6946): not really fragmented, go on walking.
                switch walkExtensions(ip, next: next, start: dataStart, claimedEnd: total) {
                case .transport(let proto, let o): return transport(proto, ip, start: o, claimedEnd: total, &ctx)
                case .fragment:
                    counters.add(DecodeCounter.ipv6ExtHeadersBad)
                    return nil
                case nil: return nil
                }
            }
            counters.add(DecodeCounter.ipv6Fragments)
            guard total <= ip.count else {
                counters.add(DecodeCounter.fragmentTruncated)
                return nil
            }
            let key = FragmentKey(src: ctx.src, dst: ctx.dst, id: ip.readBE32(at: at + 4), proto: 0)
            let frag = UnsafeRawBufferPointer(rebasing: ip[dataStart..<total])
            guard let dg = fragments.add(key: key, offset: offset, moreFragments: more, fragment: frag,
                                         ttl: ctx.ttl, nextHeader: next, now: ctx.timestamp, counters: &counters)
            else { return nil }
            counters.add(DecodeCounter.ipv6FragmentsReassembled)
            let data = store(dg)
            ctx.ttl = dg.ttl
            ctx.fromFragments = true
            // The fragmentable part may itself start with extension headers (e.g. Destination Options).
            switch walkExtensions(data, next: dg.nextHeader, start: 0, claimedEnd: data.count) {
            case .transport(let proto, let o): return transport(proto, data, start: o, claimedEnd: data.count, &ctx)
            case .fragment:
                counters.add(DecodeCounter.ipv6ExtHeadersBad)
                return nil
            case nil: return nil
            }
        }
    }

    enum ExtensionWalk {
        case transport(proto: UInt8, offset: Int)
        /// Offset of a Fragment header.
        case fragment(at: Int)
    }

    /// Walks IPv6 extension headers from `start` until the upper-layer header or a Fragment header.
    /// Headers must lie within both the captured bytes and the length the IPv6 header claims.
    private mutating func walkExtensions(_ ip: UnsafeRawBufferPointer, next first: UInt8, start: Int,
                                         claimedEnd: Int) -> ExtensionWalk? {
        var next = first
        var offset = start
        var seen = 0
        while true {
            let headerLength: Int
            switch next {
            case 6, 17:
                return .transport(proto: next, offset: offset)
            case 0, 43, 60, 135, 139, 140, 253, 254:
                // Hop-by-Hop, Routing, Destination Options, Mobility, HIP, Shim6, experiments:
                // length in 8-byte units, not counting the first 8.
                guard let n = extLengthByte(ip, offset, claimedEnd) else { return nil }
                headerLength = (n + 1) * 8
            case 51:
                // Authentication Header: length in 4-byte units, minus 2.
                guard let n = extLengthByte(ip, offset, claimedEnd) else { return nil }
                headerLength = (n + 2) * 4
            case 44:
                guard fits(ip, offset, 8, claimedEnd) else { return nil }
                return .fragment(at: offset)
            case 50:
                // ESP: everything after is encrypted.
                counters.add(DecodeCounter.ipv6ESP)
                return nil
            default:
                // 59 (No Next Header), ICMPv6 and anything else that is not TCP or UDP.
                counters.add(DecodeCounter.notTCPUDP)
                return nil
            }
            seen += 1
            guard seen <= limits.maxIPv6ExtensionHeaders else {
                counters.add(DecodeCounter.ipv6ExtHeadersBad)
                return nil
            }
            guard fits(ip, offset, headerLength, claimedEnd) else { return nil }
            next = ip[offset]
            offset += headerLength
        }
    }

    /// The length byte of an extension header, if its first two bytes are there.
    private mutating func extLengthByte(_ ip: UnsafeRawBufferPointer, _ offset: Int, _ claimedEnd: Int) -> Int? {
        guard fits(ip, offset, 2, claimedEnd) else { return nil }
        return Int(ip[offset + 1])
    }

    /// Whether `count` header bytes at `offset` lie within the claimed length (else malformed) and
    /// the captured bytes (else cut by snaplen). Counts the failure.
    private mutating func fits(_ ip: UnsafeRawBufferPointer, _ offset: Int, _ count: Int, _ claimedEnd: Int) -> Bool {
        if offset + count > claimedEnd {
            counters.add(DecodeCounter.ipv6ExtHeadersBad)
            return false
        }
        if offset + count > ip.count {
            counters.add(DecodeCounter.truncatedIP)
            return false
        }
        return true
    }

    // MARK: - Transport

    /// Decodes the TCP or UDP header at `start` of `buf`; the IP layer says the packet ends at
    /// `claimedEnd`, which may lie beyond the captured `buf.count`.
    @inline(__always)  // saves copying the ~130-byte result through each layer: about 2x on the hot path
    private mutating func transport(_ proto: UInt8, _ buf: UnsafeRawBufferPointer, start: Int, claimedEnd: Int,
                                    _ ctx: inout Context) -> DecodedPacket? {
        let captured = min(claimedEnd, buf.count)
        var headerEnd: Int
        var end = claimedEnd
        var tcp = TCPInfo.zero
        let kind: TransportProtocol
        switch proto {
        case 6:
            kind = .tcp
            guard start + 20 <= claimedEnd else { return bad(DecodeCounter.tcpBadHeader) }
            guard start + 20 <= captured else { return bad(DecodeCounter.truncatedTCP) }
            let dataOffset = Int(buf[start + 12] >> 4) * 4
            guard dataOffset >= 20, start + dataOffset <= claimedEnd else { return bad(DecodeCounter.tcpBadHeader) }
            guard start + dataOffset <= captured else { return bad(DecodeCounter.truncatedTCP) }
            headerEnd = start + dataOffset
            tcp = TCPInfo(seq: buf.readBE32(at: start + 4), ack: buf.readBE32(at: start + 8),
                          flags: TCPFlags(rawValue: buf[start + 13]), window: buf.readBE16(at: start + 14),
                          urgentPointer: buf.readBE16(at: start + 18))
        case 17:
            kind = .udp
            guard start + 8 <= claimedEnd else { return bad(DecodeCounter.udpBadHeader) }
            guard start + 8 <= captured else { return bad(DecodeCounter.truncatedUDP) }
            headerEnd = start + 8
            let udpLength = Int(buf.readBE16(at: start + 4))
            if udpLength == 0 && claimedEnd - start > 0xFFFF {
                // Jumbogram (RFC 2675): the IP length rules.
            } else if udpLength < 8 {
                return bad(DecodeCounter.udpBadHeader)
            } else if start + udpLength > claimedEnd {
                // UDP claims more than IP carries: trust IP.
                counters.add(DecodeCounter.udpBadLength)
            } else {
                end = start + udpLength
            }
        default:
            return bad(DecodeCounter.notTCPUDP)
        }
        let payloadEnd = min(end, buf.count)
        let payload = UnsafeRawBufferPointer(rebasing: buf[headerEnd..<max(headerEnd, payloadEnd)])
        return DecodedPacket(timestamp: ctx.timestamp, src: ctx.src, dst: ctx.dst, transport: kind,
                             srcPort: buf.readBE16(at: start), dstPort: buf.readBE16(at: start + 2), tcp: tcp,
                             payload: payload, payloadTruncated: payload.count < end - headerEnd,
                             payloadLength: end - headerEnd, ttl: ctx.ttl, fromFragments: ctx.fromFragments,
                             wireLength: ctx.wireLength)
    }

    private mutating func bad(_ counter: String) -> DecodedPacket? {
        counters.add(counter)
        return nil
    }
}
