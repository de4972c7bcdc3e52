// IPv4/IPv6 text and CIDR blocks for the `cidr` modifier.

/// An address as 128 bits; IPv4 is held as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), so an
/// IPv4 block also matches the mapped form of its addresses.
struct IP128: Sendable, Equatable {
    var hi: UInt64
    var lo: UInt64
    var isV4: Bool

    /// Dotted quad, or IPv6 text (`::` compression, trailing dotted quad, `[...]` brackets and a
    /// `%zone` suffix tolerated). Nil for anything else. Reads the UTF-8 bytes once, no allocation.
    static func parse(_ text: Substring) -> IP128? {
        var t = text
        return t.withUTF8 { parse(bytes: $0) }
    }

    static func parse(bytes raw: UnsafeBufferPointer<UInt8>) -> IP128? {
        var lo = 0, hi = raw.count
        if hi - lo >= 2 && raw[lo] == 0x5B && raw[hi - 1] == 0x5D { lo += 1; hi -= 1 }  // [ ]
        var colon = false
        for i in lo..<hi {
            if raw[i] == 0x25 { hi = i; break }  // %zone
            if raw[i] == 0x3A { colon = true }
        }
        if !colon {
            guard let v4 = parseV4(raw, lo, hi) else { return nil }
            return IP128(hi: 0, lo: 0xFFFF_0000_0000 | UInt64(v4), isV4: true)
        }
        guard let (h, l) = parseV6(raw, lo, hi) else { return nil }
        return IP128(hi: h, lo: l, isV4: false)
    }

    /// Four decimal octets (no leading sign, at most three digits each) in `raw[lo..<hi]`.
    static func parseV4(_ raw: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> UInt32? {
        var value: UInt32 = 0, octet: UInt32 = 0, digits = 0, parts = 0
        var i = lo
        while i <= hi {
            if i == hi || raw[i] == 0x2E {
                guard digits > 0, octet <= 255 else { return nil }
                value = value << 8 | octet
                parts += 1
                octet = 0; digits = 0
            } else {
                let d = raw[i] &- 0x30
                guard d <= 9, digits < 3 else { return nil }
                octet = octet * 10 + UInt32(d)
                digits += 1
            }
            i += 1
        }
        return parts == 4 ? value : nil
    }

    static func parseV6(_ raw: UnsafeBufferPointer<UInt8>, _ lo: Int, _ hi: Int) -> (UInt64, UInt64)? {
        var groups = [UInt16](repeating: 0, count: 8)
        var count = 0
        var gap = -1
        var i = lo
        if hi - lo >= 2 && raw[lo] == 0x3A && raw[lo + 1] == 0x3A { gap = 0; i = lo + 2 }
        else if hi > lo && raw[lo] == 0x3A { return nil }
        while i < hi {
            // One group, or a trailing dotted quad.
            var j = i, v: UInt32 = 0, n = 0, dot = false
            while j < hi && raw[j] != 0x3A {
                if raw[j] == 0x2E { dot = true }
                j += 1
            }
            if dot {
                guard j == hi, count <= 6, let v4 = parseV4(raw, i, j) else { return nil }
                groups[count] = UInt16(v4 >> 16); groups[count + 1] = UInt16(v4 & 0xFFFF)
                count += 2
                i = j
                break
            }
            for k in i..<j {
                let c = raw[k]
                let d: UInt8
                switch c {
                case 0x30...0x39: d = c - 0x30
                case 0x61...0x66: d = c - 0x61 + 10
                case 0x41...0x46: d = c - 0x41 + 10
                default: return nil
                }
                v = v << 4 | UInt32(d)
                n += 1
            }
            guard n >= 1, n <= 4, count < 8 else { return nil }
            groups[count] = UInt16(v)
            count += 1
            i = j
            if i < hi {
                // A colon: `::` marks the gap (once), a single one separates groups.
                if i + 1 < hi && raw[i + 1] == 0x3A {
                    guard gap < 0 else { return nil }
                    gap = count
                    i += 2
                } else {
                    i += 1
                    guard i < hi else { return nil }
                }
            }
        }
        if gap >= 0 {
            guard count <= 7 else { return nil }
            let tail = count - gap
            var full = [UInt16](repeating: 0, count: 8)
            for k in 0..<gap { full[k] = groups[k] }
            for k in 0..<tail { full[8 - tail + k] = groups[gap + k] }
            groups = full
        } else if count != 8 {
            return nil
        }
        var h: UInt64 = 0, l: UInt64 = 0
        for k in 0..<4 { h = h << 16 | UInt64(groups[k]) }
        for k in 4..<8 { l = l << 16 | UInt64(groups[k]) }
        return (h, l)
    }
}

/// A CIDR block (`10.0.0.0/8`, `fe80::/10`; a bare address is a one-address block).
struct CIDRBlock: Sendable, Equatable {
    let network: IP128
    /// Prefix length counted on 128 bits (an IPv4 `/8` is 104).
    let bits: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, !parts[0].contains("%"), let addr = IP128.parse(parts[0]) else { return nil }
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
