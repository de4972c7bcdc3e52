/// The caches of recent work (secret scans, tool definitions) key their entries by the bytes
/// they read: a fast hash to find the slot, then a full comparison. Unkeyed, which is safe
/// there: a collision, crafted or not, only costs the work the cache would have saved.
public enum ByteHash {
    /// A hash of `p` from `seed`, eight bytes a step (multiply and shift). The last one to seven
    /// bytes are one more word: the final eight bytes (overlapping the last step) when there
    /// are eight, else the bytes gathered; the count, mixed in first, tells lengths apart.
    @inlinable
    public static func mix(_ seed: UInt64, _ p: UnsafeRawBufferPointer) -> UInt64 {
        let n = p.count
        var h = seed ^ (UInt64(n) &* 0xFF51_AFD7_ED55_8CCD)
        var i = 0
        while i &+ 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 29
            i &+= 8
        }
        if i < n {
            let last: UInt64
            if n >= 8 {
                last = p.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
            } else if n >= 4 {
                last = UInt64(p.loadUnaligned(as: UInt32.self)) << 32
                    | UInt64(p.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self))
            } else {
                var w: UInt64 = 0
                for b in p { w = w << 8 | UInt64(b) }
                last = w
            }
            h = (h ^ last) &* 0xC4CE_B9FE_1A85_EC53
            h ^= h >> 29
        }
        return h ^ (h >> 32)
    }

    /// Equal bytes, compared eight at a time; `p` and `q` have the same count. The last one to
    /// seven bytes are compared as one word too (the final eight, or two overlapping halves).
    @inlinable
    public static func same(_ p: UnsafeRawBufferPointer, _ q: UnsafeRawBufferPointer) -> Bool {
        let n = p.count
        if n >= 8 {
            var i = 0
            while i &+ 8 <= n {
                if p.loadUnaligned(fromByteOffset: i, as: UInt64.self) != q.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i &+= 8
            }
            return i == n || p.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
                == q.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
        }
        if n >= 4 {
            return p.loadUnaligned(as: UInt32.self) == q.loadUnaligned(as: UInt32.self)
                && p.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) == q.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
        }
        var i = 0
        while i < n {
            if p[i] != q[i] { return false }
            i &+= 1
        }
        return true
    }
}
