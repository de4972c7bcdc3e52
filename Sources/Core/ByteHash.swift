/// The caches of recent work (secret scans, tool definitions) key their entries by the bytes
/// they read: a fast hash to find the slot, then a full comparison. Unkeyed, which is safe
/// there: a collision, crafted or not, only costs the work the cache would have saved.
public enum ByteHash {
    /// A hash of `p` from `seed`, eight bytes a step (multiply and shift).
    @inlinable
    public static func mix(_ seed: UInt64, _ p: UnsafeRawBufferPointer) -> UInt64 {
        var h = seed ^ (UInt64(p.count) &* 0xFF51_AFD7_ED55_8CCD)
        var i = 0
        while i + 8 <= p.count {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 29
            i += 8
        }
        while i < p.count {
            h = (h ^ UInt64(p[i])) &* 0x100_0000_01B3
            i += 1
        }
        return h ^ (h >> 32)
    }

    /// Equal bytes, compared eight at a time; `p` and `q` have the same count.
    @inlinable
    public static func same(_ p: UnsafeRawBufferPointer, _ q: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        while i + 8 <= p.count {
            if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) != q.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < p.count {
            if p[i] != q[i] { return false }
            i += 1
        }
        return true
    }
}
