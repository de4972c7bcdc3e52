// RFC 6455 5.3 masking, eight bytes at a time.

enum WebSocketMasking {
    /// XORs `buffer` in place with the masking key, starting at key byte `phase` (the payload
    /// offset modulo 4, since a payload may arrive in several pieces). `key` holds the four key
    /// bytes in wire order in its memory; only its bytes are read, so the code is endian-neutral.
    static func unmask(_ buffer: UnsafeMutableRawBufferPointer, key: UInt32, phase: Int) {
        guard let base = buffer.baseAddress, !buffer.isEmpty else { return }
        var pattern: UInt64 = 0
        withUnsafeBytes(of: key) { k in
            withUnsafeMutableBytes(of: &pattern) { p in
                for j in 0..<8 { p[j] = k[(phase + j) & 3] }
            }
        }
        let n = buffer.count
        var i = 0
        while i + 8 <= n {
            let v = base.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ pattern
            base.storeBytes(of: v, toByteOffset: i, as: UInt64.self)
            i += 8
        }
        if i < n {
            // Byte i of this piece uses key byte (phase + i) & 3, which is pattern byte i & 3.
            withUnsafeBytes(of: pattern) { p in
                while i < n {
                    base.storeBytes(of: base.load(fromByteOffset: i, as: UInt8.self) ^ p[i & 3],
                                    toByteOffset: i, as: UInt8.self)
                    i += 1
                }
            }
        }
    }
}
