// IPv4/IPv6 text and CIDR blocks for the `cidr` modifier.

/// An address as 128 bits; IPv4 is held as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so an
/// IPv4 block also matches the mapped form of its addresses.
struct IP128: Sendable, Equatable {
    var hi: UInt64
    var lo: UInt64
    var isV4: Bool

    /// Dotted quad, or IPv6 text (`::` compression, trailing dotted quad, `[...]` brackets and a
    /// `%zone` suffix tolerated). Nil for anything else.
    static func parse(_ text: Substring) -> IP128? {
        var t = text
        if t.first == "[" && t.last == "]" { t = t.dropFirst().dropLast() }
        if let pct = t.firstIndex(of: "%") { t = t[..<pct] }
        if !t.contains(":") {
            guard let v4 = parseV4(t) else { return nil }
            return IP128(hi: 0, lo: 0xFFFF_0000_0000 | UInt64(v4), isV4: true)
        }
        guard let (hi, lo) = parseV6(t) else { return nil }
        return IP128(hi: hi, lo: lo, isV4: false)
    }

    static func parseV4(_ t: Substring) -> UInt32? {
        let parts = t.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let octet = UInt32(p), octet <= 255 else { return nil }
            v = v << 8 | octet
        }
        return v
    }

    static func parseV6(_ t: Substring) -> (UInt64, UInt64)? {
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        let halves: [Substring]
        if let r = t.range(of: "::") {
            sawGap = true
            halves = [t[..<r.lowerBound], t[r.upperBound...]]
            if halves[1].contains("::") { return nil }
        } else {
            halves = [t]
        }
        func groups(_ s: Substring, allowV4: Bool) -> [UInt16]? {
            if s.isEmpty { return [] }
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            var out: [UInt16] = []
            for (i, p) in parts.enumerated() {
                if i == parts.count - 1 && allowV4 && p.contains(".") {
                    guard let v4 = parseV4(p) else { return nil }
                    out.append(UInt16(v4 >> 16)); out.append(UInt16(v4 & 0xFFFF))
                } else {
                    guard !p.isEmpty, p.count <= 4, let g = UInt16(p, radix: 16) else { return nil }
                    out.append(g)
                }
            }
            return out
        }
        if sawGap {
            guard let h = groups(halves[0], allowV4: false), let tl = groups(halves[1], allowV4: true),
                  h.count + tl.count <= 7 else { return nil }
            head = h; tail = tl
        } else {
            guard let h = groups(halves[0], allowV4: true), h.count == 8 else { return nil }
            head = h
        }
        let all = head + [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for i in 0..<4 { hi = hi << 16 | UInt64(all[i]) }
        for i in 4..<8 { lo = lo << 16 | UInt64(all[i]) }
        return (hi, lo)
    }
}

/// A CIDR block (`10.0.0.0/8`, `fe80::/10`; a bare address is a one-address block).
struct CIDRBlock: Sendable, Equatable {
    let network: IP128
    /// Prefix length counted on 128 bits (an IPv4 `/8` is 104).
    let bits: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, let addr = IP128.parse(parts[0]), !parts[0].contains("%") else { return nil }
        let max = addr.isV4 ? 32 : 128
        var len = max
        if parts.count == 2 {
            guard !parts[1].isEmpty, parts[1].allSatisfy({ $0.isASCII && $0.isNumber }),
                  let l = Int(parts[1]), l <= max else { return nil }
            len = l
        }
        bits = addr.isV4 ? 96 + len : len
        let (mh, ml) = Self.mask(bits)
        network = IP128(hi: addr.hi & mh, lo: addr.lo & ml, isV4: addr.isV4)
    }

    static func mask(_ bits: Int) -> (UInt64, UInt64) {
        let hi: UInt64 = bits >= 64 ? .max : bits == 0 ? 0 : ~(UInt64.max >> UInt64(bits))
        let lo: UInt64 = bits >= 128 ? .max : bits <= 64 ? 0 : ~(UInt64.max >> UInt64(bits - 64))
        return (hi, lo)
    }

    func contains(_ a: IP128) -> Bool {
        let (mh, ml) = Self.mask(bits)
        return a.hi & mh == network.hi && a.lo & ml == network.lo
    }

    func contains(text: String) -> Bool {
        guard let a = IP128.parse(text[...]) else { return false }
        return contains(a)
    }
}
