/// A bucket of an open-addressing table: empty (`init()`), or an entry with its hash.
public protocol ProbedBucket {
    init()
    var isOccupied: Bool { get }
    var hash: UInt64 { get }
}

/// What the engine's open-addressing indexes share (the flow table's `FlowIndex`, the MCP
/// tracker's `PendingIndex`): linear probing over a power-of-two array kept at most half full,
/// and removal by backward shift, so a table that fills and empties forever never degrades (no
/// tombstones). Inlinable, so each index gets it specialised for its own buckets.
public enum LinearProbing {
    /// The first bucket from the home position of `hash`, before the first empty one, that
    /// `matches`.
    @inlinable
    public static func index<B: ProbedBucket>(of hash: UInt64, in buckets: [B], mask: Int,
                                              where matches: (B) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].isOccupied {
            if matches(buckets[i]) { return i }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// Puts `bucket` in the first empty bucket from its home position.
    @inlinable
    public static func place<B: ProbedBucket>(_ bucket: B, in buckets: inout [B], mask: Int) {
        var i = Int(truncatingIfNeeded: bucket.hash) & mask
        while buckets[i].isOccupied { i = (i &+ 1) & mask }
        buckets[i] = bucket
    }

    /// The buckets of `old` placed in an array twice as large.
    @inlinable
    public static func grown<B: ProbedBucket>(_ old: [B]) -> [B] {
        var buckets = Array(repeating: B(), count: old.count * 2)
        let mask = buckets.count - 1
        for b in old where b.isOccupied { place(b, in: &buckets, mask: mask) }
        return buckets
    }

    /// Empties bucket `i`, moving each later bucket of its cluster into the hole when its home
    /// position does not lie (cyclically) after the hole, so every entry stays reachable.
    @inlinable
    public static func remove<B: ProbedBucket>(at i: Int, in buckets: inout [B], mask: Int) {
        var hole = i
        var j = i
        while true {
            j = (j &+ 1) & mask
            guard buckets[j].isOccupied else { break }
            let home = Int(truncatingIfNeeded: buckets[j].hash) & mask
            if (j &- home) & mask >= (j &- hole) & mask {
                buckets[hole] = buckets[j]
                hole = j
            }
        }
        buckets[hole] = B()
    }
}
