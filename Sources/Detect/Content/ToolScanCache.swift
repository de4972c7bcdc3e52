import SonarCore

/// What the poisoning rules found in recently seen tool definitions, by the definition's bytes.
/// Every session's `tools/list` hands back the same definitions, and each used to be walked and
/// scanned again (six passes over its members and every phrase table over its texts): about
/// 5 % of the pipeline's instructions on the benchmark corpus. A definition scanned once is
/// answered from here: its findings, with evidence paths from the tool object, rebased on the
/// tool's place in each new message.
///
/// Direct-mapped by a hash of the bytes, each slot compared in full before it answers: a
/// collision (crafted or not) replaces the slot and costs a scan, never a wrong answer.
/// Definitions over `maxToolBytes` are scanned each time, so at most `slotCount` ×
/// `maxToolBytes` bytes are kept. One per detection engine (one thread); a new rule set starts
/// a new cache.
public final class ToolScanCache {
    private final class Entry {
        let hash: UInt64
        let bytes: [UInt8]
        let findings: [Finding]
        init(hash: UInt64, bytes: [UInt8], findings: [Finding]) {
            self.hash = hash; self.bytes = bytes; self.findings = findings
        }
    }
    // Unchecked exclusivity: each access is one read or store of a slot, with no code of ours
    // running inside it.
    @exclusivity(unchecked) private var slots: [Entry?]
    public static let slotCount = 512
    public static let maxToolBytes = 8 << 10

    public init() { slots = Array(repeating: nil, count: Self.slotCount) }

    /// Definitions held (tests).
    var count: Int { slots.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    /// The findings of the definition `bytes` (paths from the tool object), scanning it with
    /// `scan` when it is not held.
    func findings(of bytes: UnsafeRawBufferPointer, scan: () -> [Finding]) -> [Finding] {
        guard bytes.count <= Self.maxToolBytes else { return scan() }
        let hash = ByteHash.mix(0x7F4A_7C15_9E37_79B9, bytes)
        let slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        if let e = slots[slot], e.hash == hash, e.bytes.count == bytes.count,
           e.bytes.withUnsafeBytes({ ByteHash.same($0, bytes) }) {
            return e.findings
        }
        let found = scan()
        slots[slot] = Entry(hash: hash, bytes: Array(bytes), findings: found)
        return found
    }
}
