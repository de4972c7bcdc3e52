// Small byte-level helpers of the secrets scanner: CRC32, base62, entropy, base64 and percent
// decoding. Foundation-free so they can run on the packet path.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

enum SecretCodec {
    /// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), as zlib's `crc32`.
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func crc32<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static let base62Alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// `value` in base62, most significant digit first, left-padded with `0` to `width`.
    static func base62(_ value: UInt32, width: Int) -> [UInt8] {
        var v = value
        var out: [UInt8] = []
        while v > 0 { out.append(base62Alphabet[Int(v % 62)]); v /= 62 }
        while out.count < width { out.append(0x30) }
        return out.reversed()
    }

    /// GitHub's token checksum: the last 6 bytes of `body` are base62(CRC32(the bytes before them)).
    static func githubChecksumValid(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        guard body.count > 6 else { return false }
        let payload = UnsafeBufferPointer(rebasing: body[0..<(body.count - 6)])
        let expected = base62(crc32(payload), width: 6)
        var i = 0
        while i < 6 {
            if body[body.count - 6 + i] != expected[i] { return false }
            i += 1
        }
        return true
    }

    /// Shannon entropy of the byte distribution, in bits per character.
    static func entropy(_ bytes: UnsafeBufferPointer<UInt8>) -> Double {
        guard !bytes.isEmpty else { return 0 }
        // Stack-allocated counts: this runs once per validated candidate.
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { counts in
            counts.initialize(repeating: 0)
            for b in bytes { counts[Int(b)] &+= 1 }
            let n = Double(bytes.count)
            var h = 0.0
            for c in counts where c > 0 {
                let p = Double(c) / n
                h -= p * log2(p)
            }
            return h
        }
    }

    /// Base64 digit values for both alphabets (`+/` and `-_`); 255 elsewhere.
    static let base64Values: [UInt8] = {
        var t = [UInt8](repeating: 255, count: 256)
        for (i, c) in "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8.enumerated() { t[Int(c)] = UInt8(i) }
        t[Int(UInt8(ascii: "+"))] = 62; t[Int(UInt8(ascii: "-"))] = 62
        t[Int(UInt8(ascii: "/"))] = 63; t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    /// Decodes base64 or base64url (padding optional, CR/LF ignored); nil on any other byte,
    /// a mixed alphabet, padding inside, or an impossible length (unless `partial`: a sample cut
    /// anywhere).
    /// Exactly `decodeBase64(s, partial: true).map { bytes all printable } ?? false` (printable:
    /// no control character but tab, LF and CR), without allocating, stopping at the first byte
    /// that decides: the test run on the head of every long string of a message.
    static func base64DecodesToPrintable(_ s: UnsafeBufferPointer<UInt8>) -> Bool {
        var acc: UInt32 = 0, bits = 0, padding = 0
        var standard = false, url = false
        for b in s {
            if b == 0x0A || b == 0x0D { continue }
            if b == 0x3D { padding += 1; continue }
            if padding > 0 { return false }
            let v = base64Values[Int(b)]
            if v == 255 { return false }
            if b == 0x2B || b == 0x2F { standard = true } else if b == 0x2D || b == 0x5F { url = true }
            acc = (acc << 6) | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                let byte = UInt8((acc >> UInt32(bits)) & 0xFF)
                if byte < 0x20 && byte != 0x09 && byte != 0x0A && byte != 0x0D { return false }
            }
        }
        return !(standard && url)
    }

    static func decodeBase64(_ s: UnsafeBufferPointer<UInt8>, partial: Bool = false) -> [UInt8]? {
        // Most strings of a message are not base64: refuse them before allocating anything.
        // The same conditions as the decoding loop below, so the answer never differs.
        do {
            var digits = 0, padding = 0
            var standard = false, url = false
            for b in s {
                if b == 0x0A || b == 0x0D { continue }
                if b == 0x3D { padding += 1; continue }
                if padding > 0 || base64Values[Int(b)] == 255 { return nil }
                if b == 0x2B || b == 0x2F { standard = true } else if b == 0x2D || b == 0x5F { url = true }
                digits += 1
            }
            if standard && url { return nil }
            if !partial && (digits % 4 == 1 || padding > 2) { return nil }
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count * 3 / 4)
        var acc: UInt32 = 0, bits = 0, digits = 0
        var standard = false, url = false, padding = 0
        for b in s {
            if b == 0x0A || b == 0x0D { continue }
            if b == 0x3D { padding += 1; continue }
            if padding > 0 { return nil }
            let v = base64Values[Int(b)]
            if v == 255 { return nil }
            if b == 0x2B || b == 0x2F { standard = true } else if b == 0x2D || b == 0x5F { url = true }
            acc = (acc << 6) | UInt32(v)
            bits += 6; digits += 1
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((acc >> UInt32(bits)) & 0xFF))
            }
        }
        if standard && url { return nil }
        if !partial && (digits % 4 == 1 || padding > 2) { return nil }
        return out
    }

    /// True when `bytes` is text worth scanning: valid UTF-8 with no control characters other
    /// than tab, CR and LF. Binary (images, compressed data) fails within a few bytes.
    static func isText(_ bytes: [UInt8]) -> Bool {
        for b in bytes where (b < 0x20 && b != 0x09 && b != 0x0A && b != 0x0D) || b == 0x7F { return false }
        var valid = true
        var it = bytes.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&it) {
            case .scalarValue: continue
            case .emptyInput: break loop
            case .error: valid = false; break loop
            }
        }
        return valid
    }

    @inline(__always) static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case 0x30...0x39: return b - 0x30
        case 0x41...0x46: return b - 0x41 + 10
        case 0x61...0x66: return b - 0x61 + 10
        default: return nil
        }
    }

    /// Decodes `%xx` escapes; nil when there is none (nothing to rescan).
    static func decodePercent(_ s: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        var i = 0, decoded = 0
        let n = s.count
        while i < n {
            if s[i] == 0x25, i + 2 < n, let h = hexValue(s[i + 1]), let l = hexValue(s[i + 2]) {
                if out.isEmpty && decoded == 0 { out.reserveCapacity(n); out.append(contentsOf: s[0..<i]) }
                out.append(h << 4 | l)
                decoded += 1
                i += 3
            } else {
                if decoded > 0 { out.append(s[i]) }
                i += 1
            }
        }
        return decoded > 0 ? out : nil
    }
}
