import SonarCore

/// An unkeyed hash of addresses and numbers, for the egress layer's small direct-mapped tables
/// (the exposure findings settled per pair, the MCP server hosts added lately). Unkeyed is safe
/// there: a collision only sends a message to the set behind the table, as a miss does.
struct SlotHash {
    private var h: UInt64 = 0x9E37_79B9_7F4A_7C15

    mutating func add(_ w: UInt64) {
        h = (h ^ w) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 31
    }

    mutating func add(_ a: IPAddress) {
        switch a {
        case .v4(let v): add(UInt64(v))
        case .v6(let hi, let lo): add(hi); add(lo)
        }
    }

    /// The slot among `count` (a power of two).
    func slot(count: Int) -> Int { Int(truncatingIfNeeded: h) & (count - 1) }
}
