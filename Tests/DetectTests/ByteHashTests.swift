import Testing
import SonarCore

/// The scan caches find their slot by `ByteHash.mix` and trust `ByteHash.same` for equality:
/// every length around the eight-byte steps, every position of a difference.
@Test func byteHashComparesEveryByteAtEveryLength() {
    var generator = SystemRandomNumberGenerator()
    for n in 0...40 {
        let a = (0..<n).map { _ in UInt8.random(in: 0...255, using: &generator) }
        a.withUnsafeBytes { p in
            let copy = Array(a)
            copy.withUnsafeBytes { q in
                #expect(ByteHash.same(p, q))
                #expect(ByteHash.mix(7, p) == ByteHash.mix(7, q))
            }
            for i in 0..<n {
                var b = a
                b[i] ^= 0x01 << UInt8(i % 8)
                b.withUnsafeBytes { q in
                    #expect(!ByteHash.same(p, q), "length \(n), byte \(i)")
                    #expect(!ByteHash.same(q, p), "length \(n), byte \(i)")
                }
            }
        }
    }
}

/// Texts that differ only in their last bytes, or in length, land in different slots: the tail
/// of a text is mixed in, not dropped.
@Test func byteHashMixesTheTailAndTheLength() {
    var seen = Set<UInt64>()
    for n in 0...24 {
        for last in UInt8(0)...3 {
            var a = [UInt8](repeating: 0x61, count: n)
            if n > 0 { a[n - 1] = 0x61 &+ last } else if last > 0 { continue }
            let h = a.withUnsafeBytes { ByteHash.mix(1, $0) }
            #expect(seen.insert(h).inserted, "length \(n), last \(last)")
        }
    }
}
