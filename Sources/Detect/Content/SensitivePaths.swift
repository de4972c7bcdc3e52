// Sensitive paths in request arguments: traversal (plain and encoded), credential and system files.
import SonarCore
import SonarMCP

extension ContentDetectors {
    /// Whether an argument's name says it holds a path: one of `path_keys`, or a name ending in
    /// one after `_`, `-` or a camel-case hump (`file_path`, `targetDir`).
    func isPathKey(_ key: String?) -> Bool {
        guard let key else { return false }
        // An ASCII name (all of them in practice) is compared as bytes: lowercasing it into a new
        // String and counting its characters for every path key cost about 240 instructions a
        // string argument.
        if let answer = key.withUTF8Bytes({ Self.isASCIIPathKey($0, keys: config.pathKeyBytes) }) { return answer }
        let lower = key.lowercased()
        if config.pathKeySet.contains(lower) { return true }
        for k in config.pathKeySet where lower.count > k.count && lower.hasSuffix(k) {
            let cut = key.utf8.count &- k.utf8.count
            let utf8 = Array(key.utf8)
            guard cut > 0, cut < utf8.count else { continue }
            let before = utf8[cut &- 1], first = utf8[cut]
            if before == 0x5F || before == 0x2D || (first &- 0x41 < 26) { return true }
        }
        return false
    }

    /// `isPathKey` for a name in ASCII, against the path keys' bytes (lowercase); nil when the
    /// name is not ASCII. The same answers: a key in any case, or a name ending in one after `_`,
    /// `-` or at an uppercase letter (`file_path`, `targetDir`).
    static func isASCIIPathKey(_ name: UnsafeBufferPointer<UInt8>, keys: [[UInt8]]) -> Bool? {
        for b in name where b >= 0x80 { return nil }
        if name.isEmpty { return keys.contains { $0.isEmpty } }
        for key in keys where !key.isEmpty && key.count <= name.count {
            let cut = name.count - key.count
            var i = 0
            while i < key.count, (name[cut + i] &- 0x41 < 26 ? name[cut + i] | 0x20 : name[cut + i]) == key[i] { i += 1 }
            guard i == key.count else { continue }
            if cut == 0 { return true }
            let before = name[cut - 1], first = name[cut]
            if before == 0x5F || before == 0x2D || first &- 0x41 < 26 { return true }
        }
        return false
    }

    /// One argument string. A name that says "path" raises confidence (lower severity number);
    /// every string is read, since servers take paths from any argument.
    func scanPath(_ b: UnsafeBufferPointer<UInt8>, key: String?, _ r: JSONRef, _ scan: inout Scan) {
        let pathKey = isPathKey(key)
        let levels = Self.traversalLevels(b)
        // One `../` is how a path argument says "sibling directory"; in free text (code, prose)
        // only a climb of two or more levels counts.
        if levels >= 2 || (pathKey && levels >= 1) {
            scan.add(.traversal, severity: pathKey ? 2 : 3,
                     signature: "Directory traversal in a request argument",
                     at: r, redacted: Excerpt.plain(b, 0..<b.count), matched: b)
        }
        // Encodings are decoded the way a lenient server would (percent, double percent, `%u`,
        // overlong UTF-8); traversal that only appears after decoding is evasion, whatever the key.
        var decoded: [UInt8]?
        if Self.mayBeEncoded(b) {
            let d = Self.decodeRepeatedly(b)
            if d.count != b.count || !d.elementsEqual(b) { decoded = d }
        }
        if let decoded {
            let decodedLevels = decoded.withUnsafeBufferPointer { Self.traversalLevels($0) }
            if decodedLevels > levels {
                scan.add(.encodedTraversal, signature: "Encoded directory traversal in a request argument",
                         at: r, redacted: Excerpt.plain(b, 0..<b.count), matched: b)
            }
        }
        let credential = config.credentialFileSet.firstMatch(b) != nil
            || (decoded?.withUnsafeBufferPointer { config.credentialFileSet.firstMatch($0) != nil } ?? false)
        if credential {
            scan.add(.credentialFile, severity: pathKey ? 1 : 2,
                     signature: "Request argument names a credential file",
                     at: r, redacted: Excerpt.plain(b, 0..<b.count), matched: b)
            return
        }
        let system = config.systemFileSet.firstMatch(b) != nil
            || (decoded?.withUnsafeBufferPointer { config.systemFileSet.firstMatch($0) != nil } ?? false)
        if system {
            scan.add(.systemFile, severity: pathKey ? 2 : 3,
                     signature: "Request argument names a sensitive system file",
                     at: r, redacted: Excerpt.plain(b, 0..<b.count), matched: b)
        }
    }

    /// Number of `..` path segments (`../`, `..\`, or a final `/..`).
    static func traversalLevels(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        var levels = 0
        var i = 0
        let n = b.count
        while i &+ 1 < n {
            if b[i] == 0x2E && b[i &+ 1] == 0x2E {
                let startOK = i == 0 || b[i &- 1] == 0x2F || b[i &- 1] == 0x5C || b[i &- 1] == 0x2E
                    || ByteClass.isSpace(b[i &- 1]) || b[i &- 1] == 0x3D || b[i &- 1] == 0x22 || b[i &- 1] == 0x27
                let end = i &+ 2
                let endOK = end < n ? (b[end] == 0x2F || b[end] == 0x5C) : (i > 0 && (b[i &- 1] == 0x2F || b[i &- 1] == 0x5C))
                if startOK && endOK { levels &+= 1 }
                i &+= 2
                continue
            }
            i &+= 1
        }
        return levels
    }

    static func mayBeEncoded(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        b.contains(0x25)
    }

    /// Percent-decodes up to three times (double and triple encoding), reading `%uXXXX` below
    /// 0x80 and the overlong UTF-8 forms of `.`, `/` and `\` as those characters.
    static func decodeRepeatedly(_ b: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var current = Array(b)
        for _ in 0..<3 {
            guard current.contains(0x25) else { break }
            let next = percentDecodeOnce(current)
            if next == current { break }
            current = next
        }
        return foldOverlong(current)
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c &- 0x30
        case 0x41...0x46: return c &- 0x41 &+ 10
        case 0x61...0x66: return c &- 0x61 &+ 10
        default: return nil
        }
    }

    static func percentDecodeOnce(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if b[i] == 0x25 {
                if i &+ 2 < b.count, let h = hexValue(b[i &+ 1]), let l = hexValue(b[i &+ 2]) {
                    out.append(h << 4 | l); i &+= 3; continue
                }
                // IIS-style %u002e.
                if i &+ 5 < b.count, b[i &+ 1] | 0x20 == 0x75,
                   let a = hexValue(b[i &+ 2]), let c = hexValue(b[i &+ 3]), let d = hexValue(b[i &+ 4]), let e = hexValue(b[i &+ 5]),
                   a == 0, c == 0, d < 8 {
                    out.append(d << 4 | e); i &+= 6; continue
                }
            }
            out.append(b[i]); i &+= 1
        }
        return out
    }

    /// Overlong encodings that lenient decoders accept: C0 AE / E0 80 AE → `.`, C0 AF / E0 80 AF
    /// → `/`, C1 9C → `\`.
    static func foldOverlong(_ b: [UInt8]) -> [UInt8] {
        guard b.contains(where: { $0 == 0xC0 || $0 == 0xC1 || $0 == 0xE0 }) else { return b }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            if i &+ 1 < b.count && b[i] == 0xC0 && (b[i &+ 1] == 0xAE || b[i &+ 1] == 0xAF) {
                out.append(b[i &+ 1] == 0xAE ? 0x2E : 0x2F); i &+= 2; continue
            }
            if i &+ 1 < b.count && b[i] == 0xC1 && b[i &+ 1] == 0x9C { out.append(0x5C); i &+= 2; continue }
            if i &+ 2 < b.count && b[i] == 0xE0 && b[i &+ 1] == 0x80 && (b[i &+ 2] == 0xAE || b[i &+ 2] == 0xAF) {
                out.append(b[i &+ 2] == 0xAE ? 0x2E : 0x2F); i &+= 3; continue
            }
            out.append(b[i]); i &+= 1
        }
        return out
    }
}
