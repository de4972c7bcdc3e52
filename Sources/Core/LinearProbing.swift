/// A bucket of an open-addressing table: empty (`init()`), or an entry with its hash.
public protocol ProbedBucket {
    init()
    var isOccupied: Bool { get }
    var hash: UInt64 { get }
}

/// What the engine's open-addressing indexes share (the flow table's `FlowIndex`, the MCP
/// tracker's `PendingIndex`): a power-of-two array of buckets kept at most half full, linear
/// probing, and removal by backward shift, so a table that fills and empties forever never
/// degrades (no tombstones).
///
/// The buckets live in memory of their own, owned by this value and freed with it (it cannot
/// be copied): a lookup reads them through a plain pointer. In a Swift array the flow table's
/// lookup, once a packet, retained and released the array (two atomic operations) and checked
/// its uniqueness to write. Every index is masked, so every access stays inside the buckets.
/// Inlinable, so each index gets it specialised for its own buckets.
public struct LinearProbing<B: ProbedBucket>: ~Copyable {
    @usableFromInline var buckets: UnsafeMutableBufferPointer<B>
    @usableFromInline var storedMask: Int
    @usableFromInline var storedCount = 0
    /// `capacity - 1`.
    public var mask: Int { storedMask }
    /// Occupied buckets.
    public var count: Int { storedCount }

    /// Room for `capacity` buckets, rounded up to a power of two (two at least).
    public init(capacity: Int) {
        var c = 1
        while c < max(capacity, 2) { c <<= 1 }
        buckets = .allocate(capacity: c)
        buckets.initialize(repeating: B())
        storedMask = c - 1
    }

    deinit {
        _ = buckets.deinitialize()
        buckets.deallocate()
    }

    public var capacity: Int { buckets.count }

    /// The bucket at `i` (taken modulo the capacity).
    @inlinable
    public subscript(i: Int) -> B {
        get { buckets[i & mask] }
        set { buckets[i & mask] = newValue }
    }

    /// Where bucket `i` (taken modulo the capacity) is in memory, for a prefetch.
    @inlinable
    public func address(of i: Int) -> UnsafeRawPointer? {
        buckets.baseAddress.map { UnsafeRawPointer($0 + (i & mask)) }
    }

    /// The first bucket from the home position of `hash`, before the first empty one, that
    /// `matches`.
    @inlinable
    public func index(of hash: UInt64, where matches: (B) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].isOccupied {
            if matches(buckets[i]) { return i }
            i = (i &+ 1) & mask
        }
        return nil
    }

    /// Puts `bucket` in the first empty bucket from its home position, twice as many buckets
    /// first when that would fill more than half. `empty`: that bucket, when a lookup of the
    /// same hash just ended on it (then it is not probed for again unless the buckets grow).
    @inlinable
    public mutating func insert(_ bucket: B, empty: Int? = nil) {
        if (count + 1) * 2 > buckets.count {
            grow()
            Self.place(bucket, in: buckets, mask: storedMask)
        } else if let i = empty, !buckets[i & storedMask].isOccupied {
            buckets[i & storedMask] = bucket
        } else {
            Self.place(bucket, in: buckets, mask: storedMask)
        }
        storedCount += 1
    }

    @inlinable
    static func place(_ bucket: B, in buckets: UnsafeMutableBufferPointer<B>, mask: Int) {
        var i = Int(truncatingIfNeeded: bucket.hash) & mask
        while buckets[i].isOccupied { i = (i &+ 1) & mask }
        buckets[i] = bucket
    }

    /// The entries placed in buckets twice as many.
    @inlinable
    mutating func grow() {
        let old = buckets
        buckets = .allocate(capacity: old.count * 2)
        buckets.initialize(repeating: B())
        storedMask = buckets.count - 1
        for b in old where b.isOccupied { Self.place(b, in: buckets, mask: storedMask) }
        _ = old.deinitialize()
        old.deallocate()
    }

    /// Empties bucket `i`, moving each later bucket of its cluster into the hole when its home
    /// position does not lie (cyclically) after the hole, so every entry stays reachable.
    @inlinable
    public mutating func remove(at i: Int) {
        var hole = i & mask
        var j = hole
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
        storedCount -= 1
    }
}
