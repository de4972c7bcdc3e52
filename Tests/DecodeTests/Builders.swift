import SonarCore
@testable import SonarDecode

/// Small byte-array builders for hand-made frames. Checksums are left zero: the decoder does not check them.
enum Build {
    static func be16(_ v: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)] }
    static func be32(_ v: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: v >> 24), UInt8(truncatingIfNeeded: v >> 16), UInt8(truncatingIfNeeded: v >> 8), UInt8(truncatingIfNeeded: v)]
    }
    static func le32(_ v: UInt32) -> [UInt8] { be32(v).reversed() }

    static let srcV4: [UInt8] = [192, 168, 1, 10]
    static let dstV4: [UInt8] = [10, 0, 0, 2]
    static let srcV6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    static let dstV6: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]

    static func tcp(src: Int = 40000, dst: Int = 8080, seq: UInt32 = 0x0102_0304, ack: UInt32 = 0xA0B0_C0D0,
                    flags: UInt8 = 0x18, window: Int = 0xFFEE, urgent: Int = 7, options: [UInt8] = [],
                    dataOffsetWords: Int? = nil, payload: [UInt8] = []) -> [UInt8] {
        let words = dataOffsetWords ?? (20 + options.count) / 4
        var b = be16(src) + be16(dst) + be32(seq) + be32(ack)
        b += [UInt8(words << 4), flags] + be16(window) + [0, 0] + be16(urgent)
        return b + options + payload
    }

    static func udp(src: Int = 5353, dst: Int = 53, length: Int? = nil, payload: [UInt8] = []) -> [UInt8] {
        be16(src) + be16(dst) + be16(length ?? 8 + payload.count) + [0, 0] + payload
    }

    static func ipv4(proto: UInt8 = 6, ttl: UInt8 = 64, id: Int = 0x1234, flagsOffset: Int = 0x4000,
                     src: [UInt8] = srcV4, dst: [UInt8] = dstV4, options: [UInt8] = [], ihlWords: Int? = nil,
                     totalLength: Int? = nil, payload: [UInt8]) -> [UInt8] {
        let ihl = ihlWords ?? (20 + options.count) / 4
        let total = totalLength ?? 20 + options.count + payload.count
        var b: [UInt8] = [UInt8(0x40 | ihl), 0] + be16(total) + be16(id) + be16(flagsOffset)
        b += [ttl, proto, 0, 0] + src + dst
        return b + options + payload
    }

    static func ipv6(next: UInt8 = 6, hop: UInt8 = 57, payloadLength: Int? = nil, src: [UInt8] = srcV6,
                     dst: [UInt8] = dstV6, payload: [UInt8]) -> [UInt8] {
        [0x60, 0x01, 0x23, 0x45] + be16(payloadLength ?? payload.count) + [next, hop] + src + dst + payload
    }

    /// A generic extension header (Hop-by-Hop, Routing, Destination Options): (len + 1) * 8 bytes.
    static func ext(next: UInt8, lengthUnits: Int = 0) -> [UInt8] {
        var b: [UInt8] = [next, UInt8(lengthUnits)]
        b += [UInt8](repeating: 0, count: (lengthUnits + 1) * 8 - 2)
        b[2] = 1  // PadN option type, keeps it well-formed-looking
        b[3] = UInt8((lengthUnits + 1) * 8 - 4)
        return b
    }

    /// Authentication Header: (len + 2) * 4 bytes.
    static func ah(next: UInt8, lengthUnits: Int = 4) -> [UInt8] {
        var b: [UInt8] = [next, UInt8(lengthUnits), 0, 0]
        b += [UInt8](repeating: 0xAA, count: (lengthUnits + 2) * 4 - 4)
        return b
    }

    static func fragment6(next: UInt8, offset: Int, more: Bool, id: UInt32) -> [UInt8] {
        [next, 0] + be16(offset | (more ? 1 : 0)) + be32(id)
    }

    static let macs: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]

    static func ethernet(type: Int, tags: [Int] = [], payload: [UInt8]) -> [UInt8] {
        var b = macs
        for (i, tpid) in tags.enumerated() { b += be16(tpid) + be16(100 + i) }
        return b + be16(type) + payload
    }

    static func sll(proto: Int, payload: [UInt8]) -> [UInt8] {
        [0, 0, 0x03, 0x04, 0, 6] + [1, 2, 3, 4, 5, 6, 0, 0] + be16(proto) + payload
    }

    static func sll2(proto: Int, payload: [UInt8]) -> [UInt8] {
        be16(proto) + [0, 0] + be32(2) + [0x03, 0x04, 0, 6] + [1, 2, 3, 4, 5, 6, 0, 0] + payload
    }

    static func bytes(_ n: Int, seed: UInt8 = 0) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &+ Int(seed)) } }
}

/// The decoded packet with its payload copied out, plus a check that a borrowed payload lay inside the input.
struct Decoded {
    var packet: DecodedPacket
    var payload: [UInt8]
    var payloadInsideInput: Bool
}

/// Decodes `frame` and copies the payload while it is still valid.
func run(_ decoder: inout PacketDecoder, _ frame: [UInt8], link: Int32, wire: Int? = nil,
         seconds: Int64 = 1_700_000_000) -> Decoded? {
    frame.withUnsafeBytes { buf -> Decoded? in
        guard let p = decoder.decode(buf, wireLength: wire ?? buf.count, linkType: link,
                                     timestamp: Timestamp(seconds: seconds, microseconds: 250)) else { return nil }
        var inside = true
        if p.payload.count > 0 {
            let lo = UInt(bitPattern: buf.baseAddress), hi = lo + UInt(buf.count)
            let plo = UInt(bitPattern: p.payload.baseAddress), phi = plo + UInt(p.payload.count)
            inside = plo >= lo && phi <= hi
        }
        return Decoded(packet: p, payload: Array(p.payload), payloadInsideInput: inside)
    }
}

/// Deterministic PRNG (SplitMix64) so garbage tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
