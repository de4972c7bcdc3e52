/// Eight bytes at a time (SWAR): which bytes of a word are a given value, or below one. A result
/// marks a byte by the high bit of its lane. The lowest mark is exact; marks above it may be false
/// (a borrow runs upward from the byte that caused it), so the first marked byte is always a true
/// one. The JSON parser, the JSON writer and the SSE parser scan with these.
public enum ByteLanes {
    /// The word at `offset`, its first byte in the lowest lane whatever the machine's byte order.
    @inlinable @inline(__always)
    public static func load(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        base.loadUnaligned(fromByteOffset: offset, as: UInt64.self).littleEndian
    }

    /// Bytes equal to `byte`.
    @inlinable @inline(__always)
    public static func equal(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    /// Bytes below `byte` (at most 0x80).
    @inlinable @inline(__always)
    public static func below(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        (word &- 0x0101_0101_0101_0101 &* UInt64(byte)) & ~word & 0x8080_8080_8080_8080
    }

    /// Bytes of 0x80 and above (not ASCII).
    @inlinable @inline(__always)
    public static func high(_ word: UInt64) -> UInt64 { word & 0x8080_8080_8080_8080 }

    /// The place in the word of the first marked byte (`marks` is not zero).
    @inlinable @inline(__always)
    public static func first(_ marks: UInt64) -> Int { marks.trailingZeroBitCount &>> 3 }
}
