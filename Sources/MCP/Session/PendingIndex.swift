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
struct PendingIndex: ~Copyable {
    private struct Bucket: ProbedBucket {
        var hash: UInt64 = 0
        /// The request's slot; -1 for an empty bucket.
        var slot: Int = -1
        var isOccupied: Bool { slot >= 0 }
    }
    private var buckets: LinearProbing<Bucket>
    var count: Int { buckets.count }

    init(capacity: Int = 64) {
        buckets = LinearProbing(capacity: capacity)
    }

    /// The slot filed under a key with this hash that `matches`.
    func find(_ hash: UInt64, where matches: (Int) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash)
        while buckets[i].slot >= 0 {
            if buckets[i].hash == hash, matches(buckets[i].slot) { return buckets[i].slot }
            i &+= 1
        }
        return nil
    }

    /// Files `slot` under the key with this hash: in place of the slot that `matches` (returned),
    /// else as a new entry.
    mutating func file(_ hash: UInt64, slot: Int, replacing matches: (Int) -> Bool) -> Int? {
        var i = Int(truncatingIfNeeded: hash)
        while buckets[i].slot >= 0 {
            if buckets[i].hash == hash, matches(buckets[i].slot) {
                let old = buckets[i].slot
                buckets[i].slot = slot
                return old
            }
            i &+= 1
        }
        buckets.insert(Bucket(hash: hash, slot: slot), empty: i) // where the probe above ended
        return nil
    }

    /// Removes the entry of `slot` under this hash, if there is one.
    mutating func remove(_ hash: UInt64, slot: Int) {
        guard let i = buckets.index(of: hash, where: { $0.slot == slot && $0.hash == hash }) else { return }
        buckets.remove(at: i)
    }
}
