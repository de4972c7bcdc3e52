import SonarCore

/// What the poisoning rules found in recently seen tool definitions, by the definition's bytes.
/// Every session's `tools/list` hands back the same definitions, and each used to be walked and
/// scanned again (six passes over its members and every phrase table over its texts): about
/// 5 % of the pipeline's instructions on the benchmark corpus. A definition scanned once is
/// answered from here: its findings, with evidence paths from the tool object, rebased on the
/// tool's place in each new message. One per detection engine (one thread); a new rule set
/// starts a new cache. At most `slotCount` × `maxToolBytes` bytes are kept (`BytesCache`).
public final class ToolScanCache {
    public static let slotCount = 512
    public static let maxToolBytes = 8 << 10
    private let cache = BytesCache<[Finding]>(slotCount: slotCount, maxBytes: maxToolBytes, seed: 0x7F4A_7C15_9E37_79B9)

    public init() {}

    /// Definitions held (tests).
    var count: Int { cache.count }

    /// The findings of the definition `bytes` (paths from the tool object), scanning it with
    /// `scan` when it is not held.
    func findings(of bytes: UnsafeRawBufferPointer, scan: () -> [Finding]) -> [Finding] {
        cache.value(for: bytes, compute: scan)
    }
}
