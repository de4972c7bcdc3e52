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

    /// Writes `2 * bytes.count` hex digits at `out`.
    public static func write(_ bytes: UnsafeRawBufferPointer, to out: UnsafeMutableRawPointer) {
        pairs.withUnsafeBufferPointer { pairs in
            for (i, b) in bytes.enumerated() {
                out.storeBytes(of: pairs[Int(b)].littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
        }
    }

    /// The two digits of each byte value, the first in the low byte.
    private static let pairs: [UInt16] = {
        let digits = Array("0123456789abcdef".utf8)
        return (0..<256).map { b in UInt16(digits[b >> 4]) | UInt16(digits[b & 0xF]) << 8 }
    }()
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
