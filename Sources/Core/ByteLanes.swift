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

    /// Bytes that are ASCII letters, digits or '-' (the characters of every common HTTP field
    /// name), exactly: each lane's test is a sum that stays within its byte.
    @inlinable @inline(__always)
    public static func simpleTokenChars(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let low7 = word & 0x7F7F_7F7F_7F7F_7F7F
        // A lane b (< 0x80) is at least `lo` when b + (0x80 - lo) reaches bit 7, at most `hi`
        // when b + (0x7F - hi) does not.
        func within(_ b: UInt64, _ lo: UInt8, _ hi: UInt8) -> UInt64 {
            (b &+ ones &* UInt64(0x80 &- lo)) & ~(b &+ ones &* UInt64(0x7F &- hi))
        }
        let letter = within(low7 | 0x2020_2020_2020_2020, 0x61, 0x7A)
        let digit = within(low7, 0x30, 0x39)
        // Exact, unlike `equal`, whose borrow can mark the byte after a match.
        let x = low7 ^ (ones &* 0x2D)
        let dash = ~((x &+ 0x7F7F_7F7F_7F7F_7F7F) | x)
        return (letter | digit | dash) & ~high(word) & 0x8080_8080_8080_8080
    }

    /// The place in the word of the first marked byte (`marks` is not zero).
    @inlinable @inline(__always)
    public static func first(_ marks: UInt64) -> Int { marks.trailingZeroBitCount &>> 3 }
}
