import SonarCore

/// Where the requests waiting for an answer are filed: an open-addressing table of (key hash,
/// slot) pairs. The keys themselves stay in the requests (`MCPTracker`'s slots): a lookup
/// hashes its key once and compares it only with the requests whose hash is equal. The standard
/// `Dictionary` it replaces held every key a second time and hashed the key's precomputed hash
/// again on each probe, about a tenth of the tracker's instructions.
///
/// Linear probing at most half full, removal by backward shift (`LinearProbing`, shared with the
/// flow table's index). The hashes come from the seeded standard `Hasher`, so crafted ids cannot
/// be made to collide.
struct PendingIndex {
    private struct Bucket: ProbedBucket {
        var hash: UInt64 = 0
        /// The request's slot; -1 for an empty bucket.
        var slot: Int = -1
        var isOccupied: Bool { slot >= 0 }
    }
    private var buckets: [Bucket]
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        buckets = Array(repeating: Bucket(), count: capacity)
        mask = capacity - 1
    }

    /// The slot filed under a key with this hash that `matches`.
    func find(_ hash: UInt64, where matches: (Int) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].slot >= 0 {
            if buckets[i].hash == hash, matches(buckets[i].slot) { return buckets[i].slot }
            i = (i + 1) & mask
        }
        return nil
    }

    /// Files `slot` under the key with this hash: in place of the slot that `matches` (returned),
    /// else as a new entry.
    mutating func file(_ hash: UInt64, slot: Int, replacing matches: (Int) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while buckets[i].slot >= 0 {
            if buckets[i].hash == hash, matches(buckets[i].slot) {
                let old = buckets[i].slot
                buckets[i].slot = slot
                return old
            }
            i = (i + 1) & mask
        }
        if (count + 1) * 2 > buckets.count {
            buckets = LinearProbing.grown(buckets)
            mask = buckets.count - 1
            LinearProbing.place(Bucket(hash: hash, slot: slot), in: &buckets, mask: mask)
        } else {
            buckets[i] = Bucket(hash: hash, slot: slot)
        }
        count += 1
        return nil
    }

    /// Removes the entry of `slot` under this hash, if there is one.
    mutating func remove(_ hash: UInt64, slot: Int) {
        guard let i = LinearProbing.index(of: hash, in: buckets, mask: mask, where: { $0.slot == slot && $0.hash == hash }) else {
            return
        }
        LinearProbing.remove(at: i, in: &buckets, mask: mask)
        count -= 1
    }
}
