/// Lower-case hex, written straight into storage two digits a store from a table (a byte at a
/// time it cost about 870 instructions a SHA-256 digest, and every message has one).
public enum Hex {
    /// `bytes` as lower-case hex.
    public static func string(_ bytes: UnsafeRawBufferPointer) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            guard let base = out.baseAddress else { return 0 }
            write(bytes, to: UnsafeMutableRawPointer(base))
            return bytes.count * 2
        }
    }

    /// Writes `2 * bytes.count` hex digits at `out`: each byte's two from the table, one
    /// unaligned load and store a byte. Through an Array (its bounds checks, the lazy global's
    /// check) an event's `params_sha256` field cost 490 instructions; 340 this way.
    public static func write(_ bytes: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer) {
        let table = UnsafeRawPointer(pairs.utf8Start)
        for i in 0..<bytes.count {
            let two = table.loadUnaligned(fromByteOffset: 2 &* Int(bytes[i]), as: UInt16.self)
            out.storeBytes(of: two, toByteOffset: 2 &* i, as: UInt16.self)
        }
    }

    /// "00" to "ff": the two digits of byte `b` are at `2 * b`.
    private static let pairs: StaticString = """
        000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\
        404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f\
        808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf\
        c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff
        """
}

/// A SHA-256 digest as its 32 bytes. A message's `params_sha256` is computed on a worker thread
/// and written by the session thread; as 64 characters of hex it was a String a message to
/// allocate there, hand across, copy with the event and free here. Hex only when written
/// (`JSONWriter`) or asked for (`hex`).
public struct SHA256Value: Hashable, Sendable, CustomStringConvertible {
    // The bytes in order, eight to a word (memory order, whatever the machine's byte order).
    private var w0: UInt64 = 0, w1: UInt64 = 0, w2: UInt64 = 0, w3: UInt64 = 0

    /// The first 32 bytes of `digest` (a SHA-256 digest has exactly 32; fewer are zero-filled).
    public init(_ digest: UnsafeRawBufferPointer) {
        withUnsafeMutableBytes(of: &self) { out in
            out.copyMemory(from: UnsafeRawBufferPointer(rebasing: digest.prefix(32)))
        }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try Swift.withUnsafeBytes(of: self, body)
    }

    /// The 64 lower-case hex digits.
    public var hex: String { withUnsafeBytes { Hex.string($0) } }
    public var description: String { hex }
}
