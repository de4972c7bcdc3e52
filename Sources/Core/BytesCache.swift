/// Recent results of work that is a pure function of some bytes (a scan, a set of hashes), kept
/// by those bytes: direct-mapped by `ByteHash`, each slot compared in full before it answers, so
/// a collision (crafted or not) replaces the slot and costs the work again, never a wrong
/// answer. Inputs over `maxBytes` are not kept: at most `slotCount` × `maxBytes` bytes are held.
/// One owner (a thread's stage); not for per-string paths, where the secret scan keeps its own
/// specialised slots (`SecretScanCache`).
public final class BytesCache<Value> {
    @usableFromInline
    final class Entry {
        @usableFromInline let hash: UInt64
        @usableFromInline let bytes: [UInt8]
        @usableFromInline let value: Value
        @usableFromInline
        init(hash: UInt64, bytes: [UInt8], value: Value) {
            self.hash = hash; self.bytes = bytes; self.value = value
        }
    }
    // Unchecked exclusivity (in this module; inlined elsewhere, the checks stay): each access is
    // one read or store of a slot, and `compute` runs between accesses, never inside one.
    @usableFromInline @exclusivity(unchecked) var slots: [Entry?]
    public let maxBytes: Int
    @usableFromInline let seed: UInt64

    /// `slotCount`: a power of two.
    public init(slotCount: Int, maxBytes: Int, seed: UInt64) {
        slots = Array(repeating: nil, count: max(1, slotCount))
        self.maxBytes = maxBytes
        self.seed = seed
    }

    /// Inputs held (tests).
    public var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// The value for `bytes`: the one kept for them, else `compute()` (kept when the bytes fit).
    /// Inlinable, so each user gets it specialised for its value type.
    @inlinable
    public func value(for bytes: UnsafeRawBufferPointer, compute: () -> Value) -> Value {
        guard bytes.count <= maxBytes else { return compute() }
        let hash = ByteHash.mix(seed, bytes)
        let slot = Int(truncatingIfNeeded: hash) & (slots.count - 1)
        if let e = slots[slot], e.hash == hash, e.bytes.count == bytes.count,
           e.bytes.withUnsafeBytes({ ByteHash.same($0, bytes) }) {
            return e.value
        }
        let value = compute()
        slots[slot] = Entry(hash: hash, bytes: Array(bytes), value: value)
        return value
    }
}
