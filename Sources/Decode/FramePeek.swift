import SonarCore

extension PacketDecoder {
    /// The ends and transport of a frame, read without decoding it: Ethernet (one VLAN tag at
    /// most), Linux cooked, loopback and raw IP; IPv4 that is not a fragment, IPv6 without
    /// extension headers; TCP or UDP. Nil for anything else, and no counters, no checks beyond
    /// staying inside the bytes. Only a guess at which flow the packet belongs to, so that the
    /// flow's state can be fetched into cache ahead of it (`FlowTable.prefetch`): a wrong guess
    /// costs a wasted fetch, never a different result, because the packet is decoded as ever
    /// when its turn comes.
    public static func peekEnds(_ b: UnsafeRawBufferPointer, linkType: Int32)
        -> (source: Endpoint, destination: Endpoint, transport: TransportProtocol)? {
        let l3: Int
        switch linkType {
        case LinkType.ethernet:
            guard b.count >= 18 else { return nil }
            let type = b.readBE16(at: 12)
            l3 = type == 0x8100 ? 18 : 14
            guard isIP(type == 0x8100 ? b.readBE16(at: 16) : type) else { return nil }
        case LinkType.linuxSLL:
            guard b.count >= 16, isIP(b.readBE16(at: 14)) else { return nil }
            l3 = 16
        case LinkType.linuxSLL2:
            guard b.count >= 20, isIP(b.readBE16(at: 0)) else { return nil }
            l3 = 20
        case LinkType.null, LinkType.loop:
            l3 = 4
        case LinkType.raw, LinkType.raw14, LinkType.linkTypeRaw, LinkType.ipv4, LinkType.ipv6:
            l3 = 0
        default:
            return nil
        }
        guard l3 < b.count else { return nil }
        switch b[l3] >> 4 {
        case 4:
            let ihl = Int(b[l3] & 0x0F) * 4
            let ports = l3 + ihl
            // More-fragments flag or an offset: a fragment, whose ports may not be here.
            guard ihl >= 20, b.count >= ports + 4, b.readBE16(at: l3 + 6) & 0x3FFF == 0,
                  let transport = TransportProtocol(rawValue: b[l3 + 9]) else { return nil }
            return (Endpoint(address: .v4(b.readBE32(at: l3 + 12)), port: b.readBE16(at: ports)),
                    Endpoint(address: .v4(b.readBE32(at: l3 + 16)), port: b.readBE16(at: ports + 2)), transport)
        case 6:
            guard b.count >= l3 + 44, let transport = TransportProtocol(rawValue: b[l3 + 6]) else { return nil }
            return (Endpoint(address: .read(v6: b, at: l3 + 8), port: b.readBE16(at: l3 + 40)),
                    Endpoint(address: .read(v6: b, at: l3 + 24), port: b.readBE16(at: l3 + 42)), transport)
        default:
            return nil
        }
    }

    @inline(__always)
    private static func isIP(_ etherType: UInt16) -> Bool { etherType == 0x0800 || etherType == 0x86DD }
}
