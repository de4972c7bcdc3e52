// UTF-8 validation for text messages and close reasons (RFC 6455 8.1, RFC 3629).

enum WebSocketUTF8 {
    /// Whether `bytes` is well-formed UTF-8: no overlongs, no surrogates, nothing past U+10FFFF.
    /// ASCII runs are checked eight bytes at a time, since JSON-RPC text is mostly ASCII.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        let n = bytes.count
        var i = 0
        while i < n {
            while i + 8 <= n && base.loadUnaligned(fromByteOffset: i, as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                i += 8
            }
            guard i < n else { break }
            let b0 = base.load(fromByteOffset: i, as: UInt8.self)
            if b0 < 0x80 {
                i += 1
                continue
            }
            // Length and the allowed range of the second byte (which rules out overlongs,
            // surrogates and code points beyond U+10FFFF).
            let len: Int
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: len = 2
            case 0xE0: len = 3; lo = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: len = 3
            case 0xED: len = 3; hi = 0x9F
            case 0xF0: len = 4; lo = 0x90
            case 0xF1...0xF3: len = 4
            case 0xF4: len = 4; hi = 0x8F
            default: return false
            }
            guard i + len <= n else { return false }
            let b1 = base.load(fromByteOffset: i + 1, as: UInt8.self)
            guard b1 >= lo && b1 <= hi else { return false }
            for j in 2..<len where base.load(fromByteOffset: i + j, as: UInt8.self) & 0xC0 != 0x80 {
                return false
            }
            i += len
        }
        return true
    }

    static func isValid(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isValid($0) }
    }
}
