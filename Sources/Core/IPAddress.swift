/// An IPv4 or IPv6 address held by value (no heap), as the flow table keys on it.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4(UInt32)
    case v6(UInt64, UInt64)

    /// Reads 4 or 16 network-order bytes at `offset`. The caller guarantees the bytes exist.
    public static func read(v4 bytes: UnsafeRawBufferPointer, at offset: Int) -> IPAddress {
        .v4(bytes.readBE32(at: offset))
    }

    public static func read(v6 bytes: UnsafeRawBufferPointer, at offset: Int) -> IPAddress {
        .v6(bytes.readBE64(at: offset), bytes.readBE64(at: offset + 8))
    }

    public var isLoopback: Bool {
        switch self {
        case .v4(let a): return a >> 24 == 127
        case .v6(let hi, let lo):
            if hi == 0 && lo == 1 { return true }
            // IPv4-mapped loopback ::ffff:127.x.x.x
            return hi == 0 && lo >> 32 == 0xFFFF && (lo >> 24) & 0xFF == 127
        }
    }

    public var isV6: Bool { if case .v6 = self { return true } else { return false } }

    /// Writes `a` as a dotted quad at the start of `b` (room for 15 bytes); returns the length.
    /// Two digits at a time from a table (every event writes two addresses): digit by digit,
    /// with a division for each, it took about 270 instructions an address.
    public static func writeDottedQuad(_ a: UInt32, into b: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard let out = b.baseAddress, b.count >= 15 else { return 0 }
        let pairs = DecimalDigits.pairs.utf8Start
        var n = 0
        var shift: UInt32 = 24
        while true {
            let octet = Int((a >> shift) & 0xFF)
            if octet >= 100 {
                let low = octet &- (octet >= 200 ? 200 : 100)
                out[n] = octet >= 200 ? 50 : 49
                out[n &+ 1] = pairs[2 &* low]
                out[n &+ 2] = pairs[2 &* low &+ 1]
                n &+= 3
            } else if octet >= 10 {
                out[n] = pairs[2 &* octet]
                out[n &+ 1] = pairs[2 &* octet &+ 1]
                n &+= 2
            } else {
                out[n] = UInt8(truncatingIfNeeded: 48 &+ octet)
                n &+= 1
            }
            if shift == 0 { break }
            out[n] = 46
            n &+= 1
            shift &-= 8
        }
        return n
    }

    /// Dotted quad for IPv4; RFC 5952 text for IPv6 (lowercase, longest zero run compressed).
    public var description: String {
        switch self {
        case .v4(let a):
            // Every event names two addresses: written byte by byte into a stack buffer (at
            // most 15 bytes, so the String is a small one, stored inline: no allocation).
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 15) { b in
                let n = IPAddress.writeDottedQuad(a, into: b)
                return String(decoding: UnsafeBufferPointer(rebasing: b[..<n]), as: UTF8.self)
            }
        case .v6(let hi, let lo):
            var groups = [UInt16](repeating: 0, count: 8)
            for i in 0..<4 {
                groups[i] = UInt16(truncatingIfNeeded: hi >> UInt64(48 - 16 * i))
                groups[i + 4] = UInt16(truncatingIfNeeded: lo >> UInt64(48 - 16 * i))
            }
            // IPv4-mapped addresses read better in mixed notation.
            if hi == 0 && lo >> 32 == 0xFFFF {
                let v4 = IPAddress.v4(UInt32(truncatingIfNeeded: lo))
                return "::ffff:\(v4)"
            }
            var bestStart = -1, bestLen = 0, runStart = -1
            for i in 0...8 {
                if i < 8 && groups[i] == 0 {
                    if runStart < 0 { runStart = i }
                } else if runStart >= 0 {
                    let len = i - runStart
                    if len > bestLen && len >= 2 { bestStart = runStart; bestLen = len }
                    runStart = -1
                }
            }
            var out = ""
            var i = 0
            while i < 8 {
                if i == bestStart {
                    out += "::"
                    i += bestLen
                    continue
                }
                if !out.isEmpty && !out.hasSuffix(":") { out += ":" }
                out += String(groups[i], radix: 16)
                i += 1
            }
            return out
        }
    }
}

// Inlinable, and each a single load: the decoder reads every header field through these (an
// out-of-line call from another module cost about 17 instructions each, four a packet for the
// addresses alone; byte by byte, a 32-bit field took a dozen). Callers check the bounds first,
// as they did for the bytes one at a time (the buffer's subscript checks them only in debug
// builds, as `loadUnaligned` does).
extension UnsafeRawBufferPointer {
    @inlinable @inline(__always) public func readBE16(at offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inlinable @inline(__always) public func readBE32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inlinable @inline(__always) public func readBE64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
    @inlinable @inline(__always) public func readLE32(at offset: Int) -> UInt32 {
        UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}

/// Decimal text two digits at a time.
public enum DecimalDigits {
    /// "00" to "99", the tens digit first: the two digits of `v` (0-99) are at `2 * v`.
    public static let pairs: StaticString = """
        00010203040506070809101112131415161718192021222324252627282930313233343536373839\
        40414243444546474849505152535455565758596061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899
        """
}
