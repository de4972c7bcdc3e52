/// Where the requests waiting for an answer are filed: an open-addressing table of (key hash,
/// slot) pairs. The keys themselves stay in the requests (`MCPTracker`'s slots): a lookup
/// hashes its key once and compares it only with the requests whose hash is equal. The standard
/// `Dictionary` it replaces held every key a second time and hashed the key's precomputed hash
/// again on each probe, about a tenth of the tracker's instructions.
///
/// Linear probing at most half full; removal shifts later entries back (no tombstones), so a
/// table that fills and empties forever never degrades. The hashes come from the seeded
/// standard `Hasher`, so crafted ids cannot be made to collide.
struct PendingIndex {
    private struct Bucket {
        var hash: UInt64 = 0
        /// The request's slot; -1 for an empty bucket.
        var slot: Int = -1
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
            grow()
            place(Bucket(hash: hash, slot: slot))
        } else {
            buckets[i] = Bucket(hash: hash, slot: slot)
        }
        count += 1
        return nil
    }

    /// Removes the entry of `slot` under this hash, if there is one.
    mutating func remove(_ hash: UInt64, slot: Int) {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            guard buckets[i].slot >= 0 else { return }
            if buckets[i].slot == slot && buckets[i].hash == hash { break }
            i = (i + 1) & mask
        }
        // Backward shift: move each later bucket of the cluster into the hole when its home
        // position does not lie (cyclically) after the hole, so every entry stays reachable.
        var hole = i
        var j = i
        while true {
            j = (j + 1) & mask
            guard buckets[j].slot >= 0 else { break }
            let home = Int(truncatingIfNeeded: buckets[j].hash) & mask
            if (j - home) & mask >= (j - hole) & mask {
                buckets[hole] = buckets[j]
                hole = j
            }
        }
        buckets[hole] = Bucket()
        count -= 1
    }

    private mutating func place(_ bucket: Bucket) {
        var i = Int(truncatingIfNeeded: bucket.hash) & mask
        while buckets[i].slot >= 0 { i = (i + 1) & mask }
        buckets[i] = bucket
    }

    private mutating func grow() {
        let old = buckets
        buckets = Array(repeating: Bucket(), count: old.count * 2)
        mask = buckets.count - 1
        for b in old where b.slot >= 0 { place(b) }
    }
}
