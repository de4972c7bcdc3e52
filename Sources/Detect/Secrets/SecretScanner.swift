// The secrets scanner: one pass over the bytes with a hand-written multi-literal prefilter
// (a 64 Ki-bit table of the first two bytes of every literal, then the literals sharing that
// first byte, longest first), validation of each candidate, and one decode-and-rescan of
// base64 and percent-encoded text.

import SonarCore

/// One secret found in a text.
public struct SecretMatch: Sendable, Equatable, Hashable {
    /// The id of the pattern that matched.
    public var pattern: SecretPattern.ID
    /// The exact secret (in the decoded text when `encoding` is set).
    public var value: String
    /// nil when found as written, "base64" or "url" when found after decoding the text once.
    public var encoding: String?
    /// For encoded findings: the text as written that carried the secret (redaction must hide it
    /// too, since it decodes to the secret).
    public var encodedText: String?

    public init(pattern: SecretPattern.ID, value: String, encoding: String? = nil, encodedText: String? = nil) {
        self.pattern = pattern; self.value = value; self.encoding = encoding; self.encodedText = encodedText
    }
}

/// Finds secrets in text. Immutable after loading and safe to share between workers.
public struct SecretScanner: Sendable {
    /// The configured patterns, in file order.
    public var patterns: [SecretPattern] { compiled.patterns }

    let compiled: Compiled

    /// Shortest text worth a base64 decode.
    static let minimumEncodedLength = 16

    public init(patterns: [SecretPattern]) {
        compiled = Compiled(patterns)
    }

    /// The pattern with this id.
    public func pattern(_ id: SecretPattern.ID) -> SecretPattern? {
        compiled.byId[id].map { compiled.patterns[$0] }
    }

    /// Every secret in `text`, as written and after one base64 or percent decode.
    public func scan(_ text: String) -> [SecretMatch] {
        text.withUTF8Bytes { scan(utf8: $0) }
    }

    /// `scan` over UTF-8 bytes.
    public func scan(utf8 buffer: UnsafeBufferPointer<UInt8>) -> [SecretMatch] {
        guard buffer.count >= compiled.shortestMatch else { return [] }
        var out: [SecretMatch] = []
        compiled.scanRaw(buffer, into: &out)
        let before = out.count
        scanDecoded(buffer, into: &out)
        if out.count == before { scanEmbeddedBase64(buffer, into: &out) }
        return out
    }

    /// Runs of base64 inside other text ("backup Z2hwX3…=="): each run long enough to hold a
    /// token is decoded once and rescanned, as a whole base64 string is. Bounded: at most
    /// `maxEmbeddedRuns` runs per string, so a long text of words costs one extra pass.
    private func scanEmbeddedBase64(_ buffer: UnsafeBufferPointer<UInt8>, into out: inout [SecretMatch]) {
        guard buffer.count > Self.minimumEmbeddedRun else { return }
        var i = 0, runs = 0
        while i < buffer.count, runs < Self.maxEmbeddedRuns {
            guard SecretScanner.isBase64Byte(buffer[i]) else { i += 1; continue }
            var j = i
            while j < buffer.count, SecretScanner.isBase64Byte(buffer[j]) { j += 1 }
            if j - i >= Self.minimumEmbeddedRun && j - i < buffer.count {
                runs += 1
                scanDecoded(UnsafeBufferPointer(rebasing: buffer[i..<j]), into: &out)
            }
            i = j
        }
    }

    /// Shortest embedded base64 run decoded: 24 characters carry 18 bytes, less than any token.
    static let minimumEmbeddedRun = 24
    static let maxEmbeddedRuns = 16

    private static func isBase64Byte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
            || b == 0x2B || b == 0x2F || b == 0x3D || b == 0x2D || b == 0x5F
    }

    /// Context patterns applied to a value whose name is known (a JSON member's key, an HTTP
    /// header's name): the whole value must pass the pattern's checks. Empty when the name is no
    /// context key of any pattern.
    public func scan(value text: String, key: String) -> [SecretMatch] {
        guard !compiled.contextPatterns.isEmpty, text.utf8.count >= compiled.shortestValue else { return [] }
        let lowered = key.lowercased()
        var out: [SecretMatch] = []
        text.withUTF8Bytes { buffer in
            for index in compiled.contextPatterns {
                let p = compiled.patterns[index]
                guard p.contextKeys.contains(where: { lowered.hasSuffix($0) }), !p.excludeKeys.contains(lowered) else { continue }
                if let end = compiled.body(index, buffer, from: 0, boundedByCharset: true), end == buffer.count,
                   let m = compiled.accept(index, buffer, 0..<end) {
                    out.append(m)
                }
            }
        }
        return withoutShadowedGeneric(out)
    }

    /// Matches of a text (`scan`, already reconciled among themselves) joined with those of its
    /// name (`scan(value:key:)`, a handful at most), reconciled across the two: linear in the
    /// text's matches.
    func merge(text: [SecretMatch], keyed: [SecretMatch]) -> [SecretMatch] {
        guard !keyed.isEmpty else { return text }
        guard !text.isEmpty else { return keyed }
        let keyedKept = keyed.filter { k in
            !isGeneric(k) || !text.contains { !isGeneric($0) && overlaps($0.value, k.value) }
        }
        let keyedSpecific = keyedKept.filter { !isGeneric($0) }
        var out = text.filter { t in
            !isGeneric(t) || !keyedSpecific.contains { overlaps($0.value, t.value) }
        }
        for k in keyedKept where !out.contains(where: { $0.pattern == k.pattern && $0.value == k.value }) { out.append(k) }
        return out
    }

    func isGeneric(_ m: SecretMatch) -> Bool {
        compiled.byId[m.pattern].map { compiled.patterns[$0].generic } ?? false
    }

    /// One value contains the other (equal included).
    func overlaps(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        return PayloadRedaction.contains(x[...], y) || PayloadRedaction.contains(y[...], x)
    }

    /// True when some context pattern applies to a member or header called `key` (any case):
    /// checked on the name's bytes before any value is decoded.
    func hasContext(forKey key: String) -> Bool {
        guard !compiled.contextPatterns.isEmpty else { return false }
        return key.withUTF8Bytes { hasContext(forKeyBytes: $0) }
    }

    /// `hasContext(forKey:)` on the name's UTF-8 bytes.
    func hasContext(forKeyBytes k: UnsafeBufferPointer<UInt8>) -> Bool {
        guard !compiled.contextPatterns.isEmpty else { return false }
        if let ends = compiled.contextKeyEnds {
            // Most names end in two bytes no key ends in: one lookup, not a comparison per key.
            let n = k.count
            guard n >= compiled.shortestContextKey else { return false }
            let pair = Int(Compiled.lower(k[n &- 2])) << 8 | Int(Compiled.lower(k[n &- 1]))
            if ends[pair >> 6] & (1 << UInt64(pair & 63)) == 0 { return false }
        }
        for c in compiled.contextKeyBytes where k.count >= c.count {
            var equal = true
            for (i, b) in c.enumerated() where Compiled.lower(k[k.count - c.count + i]) != b { equal = false; break }
            if equal { return true }
        }
        return false
    }

    /// Drops generic matches (Bearer, `password=`) whose value contains, or is contained in, the
    /// value of a specific match: one secret, one finding, under its most precise name.
    func withoutShadowedGeneric(_ matches: [SecretMatch]) -> [SecretMatch] {
        guard matches.count > 1 else { return matches }
        let generic = matches.map { m in compiled.byId[m.pattern].map { compiled.patterns[$0].generic } ?? false }
        guard generic.contains(true), generic.contains(false) else { return matches }
        var out: [SecretMatch] = []
        for (i, m) in matches.enumerated() {
            if generic[i] {
                let a = Array(m.value.utf8)
                let shadowed = matches.indices.contains { j in
                    guard !generic[j] else { return false }
                    let b = Array(matches[j].value.utf8)
                    return PayloadRedaction.contains(a[...], b) || PayloadRedaction.contains(b[...], a)
                }
                if shadowed { continue }
            }
            out.append(m)
        }
        return out
    }

    /// The decode-once rescan: a string that is all base64 (or a `data:…;base64,` URL) and
    /// decodes to text, or one holding `%xx` escapes. Findings already made in the text as
    /// written are not repeated.
    private func scanDecoded(_ buffer: UnsafeBufferPointer<UInt8>, into out: inout [SecretMatch]) {
        guard buffer.count >= Self.minimumEncodedLength else { return }
        var decoded: [UInt8]?
        var encoding = "base64"
        let payload = dataURLPayloadStart(buffer).map { UnsafeBufferPointer(rebasing: buffer[$0...]) } ?? buffer
        // Binary (images, archives) shows in its first bytes: decode a sample before the whole.
        let sample = UnsafeBufferPointer(rebasing: payload[0..<min(payload.count, 256)])
        if SecretCodec.base64DecodesToPrintable(sample) {
            decoded = SecretCodec.decodeBase64(payload)
        }
        if let d = decoded, !SecretCodec.isText(d) { decoded = nil }
        if decoded == nil, let d = SecretCodec.decodePercent(buffer) {
            decoded = d; encoding = "url"
        }
        guard let decoded else { return }
        var inner: [SecretMatch] = []
        decoded.withUnsafeBufferPointer { compiled.scanRaw($0, into: &inner) }
        guard !inner.isEmpty else { return }
        let original = String(decoding: buffer, as: UTF8.self)
        let plain = Set(out.map { Compiled.MatchKey(pattern: $0.pattern, value: $0.value) })
        for var m in inner where !plain.contains(Compiled.MatchKey(pattern: m.pattern, value: m.value)) {
            m.encoding = encoding
            m.encodedText = original
            out.append(m)
        }
    }

    /// Where the payload of `data:<type>;base64,<payload>` starts, if `buffer` is such a URL.
    private func dataURLPayloadStart(_ buffer: UnsafeBufferPointer<UInt8>) -> Int? {
        // Most strings do not start with "data:": answer before building anything.
        guard buffer.count > 5, buffer[0] == 0x64, buffer[1] == 0x61, buffer[2] == 0x74, buffer[3] == 0x61, buffer[4] == 0x3A else { return nil }
        let head: [UInt8] = Array("data:".utf8), marker: [UInt8] = Array(";base64,".utf8)
        var i = head.count
        let limit = min(buffer.count, 256)
        while i + marker.count <= limit {
            if buffer[i] == 0x3B, buffer[i..<(i + marker.count)].elementsEqual(marker) { return i + marker.count }
            i += 1
        }
        return nil
    }
}

extension SecretScanner {
    /// The compiled tables. A final class so the scanner struct stays one reference wide.
    final class Compiled: Sendable {
        let patterns: [SecretPattern]
        let byId: [String: Int]
        /// Per pattern: 256 entries, true where a byte may appear in the body.
        let charsets: [[Bool]]
        let allow: [Set<[UInt8]>]
        let contextPatterns: [Int]
        /// Every context key of every context pattern, as lowercase bytes (checked per member name).
        let contextKeyBytes: [[UInt8]]
        /// One bit per pair of last two bytes (lowercase) a context key ends with, and the
        /// shortest key: `hasContext(forKeyBytes:)` answers most names with one lookup. nil when
        /// some key is shorter than two bytes (each is then compared).
        let contextKeyEnds: [UInt64]?
        let shortestContextKey: Int
        /// Literals: prefixes of token patterns and keys of context patterns.
        let literals: [Literal]
        /// Literal indices by first byte (both cases for case-insensitive ones), longest first.
        let buckets: [[Int]]
        /// The same literals flattened for the hot loop (no reference counting per byte):
        /// bytes (lowercased when case-insensitive), start, length and case flag per literal, and
        /// the literal indices of each first byte at `bucketItems[bucketStart[b]..<bucketStart[b+1]]`.
        let flatBytes: [UInt8]
        let flatLiteral: [(start: Int, length: Int, caseInsensitive: Bool)]
        let bucketStart: [Int]
        let bucketItems: [Int]
        /// One bit per (first byte, second byte) pair any literal starts with.
        let pairs: [UInt64]
        /// No text shorter than this holds a match: every match is found at a literal (a token's
        /// prefix, a context key) followed by a body of at least its pattern's `minLength`. The
        /// decoded rescans read decodings, which are shorter than their text, so they are bounded
        /// by it too. Most JSON strings of a message (member names, methods, types) are shorter.
        let shortestMatch: Int
        /// No value shorter than this passes a context pattern by its name (`scan(value:key:)`).
        let shortestValue: Int
        /// No text shorter than this holds anything, in itself or by its name: the lesser of the two.
        var shortestAny: Int { min(shortestMatch, shortestValue) }

        struct Literal: Sendable {
            var bytes: [UInt8]
            var pattern: Int
            var caseInsensitive: Bool
            var isContextKey: Bool
        }

        init(_ patterns: [SecretPattern]) {
            self.patterns = patterns
            var byId: [String: Int] = [:]
            for (i, p) in patterns.enumerated() { byId[p.id] = i }
            self.byId = byId
            charsets = patterns.map { $0.charset.table(extra: Array($0.extraChars.utf8)) }
            allow = patterns.map { Set($0.allow.map { Array($0.utf8) }) }
            contextPatterns = patterns.indices.filter { patterns[$0].kind == .context }
            contextKeyBytes = contextPatterns.flatMap { patterns[$0].contextKeys.map { Array($0.utf8) } }
            shortestContextKey = contextKeyBytes.map(\.count).min() ?? 0
            if shortestContextKey >= 2 {
                var ends = [UInt64](repeating: 0, count: 1024)
                for c in contextKeyBytes {
                    let pair = Int(c[c.count - 2]) << 8 | Int(c[c.count - 1])
                    ends[pair >> 6] |= 1 << UInt64(pair & 63)
                }
                contextKeyEnds = ends
            } else {
                contextKeyEnds = nil
            }
            var literals: [Literal] = []
            for (i, p) in patterns.enumerated() {
                switch p.kind {
                case .token:
                    for prefix in p.prefixes {
                        let bytes = p.caseInsensitive ? Array(prefix.lowercased().utf8) : Array(prefix.utf8)
                        literals.append(Literal(bytes: bytes, pattern: i, caseInsensitive: p.caseInsensitive, isContextKey: false))
                    }
                case .context:
                    for key in p.contextKeys {
                        literals.append(Literal(bytes: Array(key.utf8), pattern: i, caseInsensitive: true, isContextKey: true))
                    }
                }
            }
            self.literals = literals
            shortestMatch = literals.map { $0.bytes.count + patterns[$0.pattern].minLength }.min() ?? Int.max
            shortestValue = contextPatterns.map { patterns[$0].minLength }.min() ?? Int.max
            var buckets = [[Int]](repeating: [], count: 256)
            var pairs = [UInt64](repeating: 0, count: 1024)
            for (li, lit) in literals.enumerated() where lit.bytes.count >= 2 {
                let firsts = lit.caseInsensitive ? Self.cases(lit.bytes[0]) : [lit.bytes[0]]
                let seconds = lit.caseInsensitive ? Self.cases(lit.bytes[1]) : [lit.bytes[1]]
                for f in firsts {
                    buckets[Int(f)].append(li)
                    for s in seconds {
                        let key = Int(f) << 8 | Int(s)
                        pairs[key >> 6] |= 1 << UInt64(key & 63)
                    }
                }
            }
            for b in 0..<256 {
                // Longest literal first: `sk-proj-` is tried before `sk-` at the same place.
                buckets[b].sort { (literals[$0].bytes.count, -$0) > (literals[$1].bytes.count, -$1) }
            }
            self.buckets = buckets
            self.pairs = pairs
            var flatBytes: [UInt8] = []
            var flatLiteral: [(start: Int, length: Int, caseInsensitive: Bool)] = []
            for lit in literals {
                flatLiteral.append((start: flatBytes.count, length: lit.bytes.count, caseInsensitive: lit.caseInsensitive))
                flatBytes += lit.bytes
            }
            var bucketStart: [Int] = [0]
            var bucketItems: [Int] = []
            for b in 0..<256 {
                bucketItems += buckets[b]
                bucketStart.append(bucketItems.count)
            }
            self.flatBytes = flatBytes
            self.flatLiteral = flatLiteral
            self.bucketStart = bucketStart
            self.bucketItems = bucketItems
        }

        static func cases(_ b: UInt8) -> [UInt8] {
            if b >= 0x61 && b <= 0x7A { return [b, b - 0x20] }
            if b >= 0x41 && b <= 0x5A { return [b, b + 0x20] }
            return [b]
        }

        @inline(__always) static func isAlnum(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
        }

        @inline(__always) static func isWord(_ b: UInt8) -> Bool { isAlnum(b) || b == 0x5F || b == 0x2D }

        @inline(__always) static func lower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

        /// Identity of a match for de-duplication within one text.
        struct MatchKey: Hashable {
            var pattern: String
            var value: String
        }

        /// A candidate that passed validation, by byte range of the secret in the scanned text.
        struct Hit {
            var pattern: Int
            var range: Range<Int>
            var match: SecretMatch
        }

        /// The single pass over `p`. Specific matches consume their bytes; generic ones (Bearer,
        /// `password=`) do not, and are dropped afterwards if a specific match overlaps them.
        func scanRaw(_ p: UnsafeBufferPointer<UInt8>, into out: inout [SecretMatch]) {
            let n = p.count
            guard n >= 2 else { return }
            var hits: [Hit] = []
            var i = 0
            // Everything the loop reads, as raw buffers: no reference counting per byte.
            withTables { pairs, bytes, lits, bucketStart, bucketItems in
                while i &+ 1 < n {
                    let b0 = Int(p[i])
                    let key = b0 << 8 | Int(p[i &+ 1])
                    if pairs[key >> 6] & (1 << UInt64(key & 63)) == 0 { i &+= 1; continue }
                    var next = i &+ 1
                    var k = bucketStart[b0]
                    let kEnd = bucketStart[b0 &+ 1]
                    while k < kEnd {
                        let li = bucketItems[k]
                        k &+= 1
                        let lit = lits[li]
                        guard i &+ lit.length <= n else { continue }
                        var j = 0
                        if lit.caseInsensitive {
                            while j < lit.length, Self.lower(p[i &+ j]) == bytes[lit.start &+ j] { j &+= 1 }
                        } else {
                            while j < lit.length, p[i &+ j] == bytes[lit.start &+ j] { j &+= 1 }
                        }
                        guard j == lit.length, let hit = candidate(literals[li], p, at: i) else { continue }
                        hits.append(hit)
                        if !patterns[hit.pattern].generic { next = max(next, hit.range.upperBound) }
                        break
                    }
                    i = next
                }
            }
            guard !hits.isEmpty else { return }
            // Bytes covered by specific matches, built only when a generic one needs the answer.
            var covered: [Bool] = []
            if hits.contains(where: { patterns[$0.pattern].generic }) && hits.contains(where: { !patterns[$0.pattern].generic }) {
                covered = [Bool](repeating: false, count: n)
                for h in hits where !patterns[h.pattern].generic { for k in h.range { covered[k] = true } }
            }
            var seen: Set<Compiled.MatchKey> = Set(out.map { Compiled.MatchKey(pattern: $0.pattern, value: $0.value) })
            for h in hits {
                if patterns[h.pattern].generic, !covered.isEmpty, h.range.contains(where: { covered[$0] }) { continue }
                guard seen.insert(Compiled.MatchKey(pattern: h.match.pattern, value: h.match.value)).inserted else { continue }
                out.append(h.match)
            }
        }

        /// Every (literal, position) of `p` the prefilter's tables find, none validated: the loop
        /// of `scanRaw` without its candidates, for measuring that stage alone (`literalHits`).
        func countLiteralHits(_ p: UnsafeBufferPointer<UInt8>) -> Int {
            let n = p.count
            guard n >= 2 else { return 0 }
            var count = 0
            withTables { pairs, bytes, lits, bucketStart, bucketItems in
                var i = 0
                while i &+ 1 < n {
                    let b0 = Int(p[i])
                    let key = b0 << 8 | Int(p[i &+ 1])
                    if pairs[key >> 6] & (1 << UInt64(key & 63)) == 0 { i &+= 1; continue }
                    var k = bucketStart[b0]
                    let kEnd = bucketStart[b0 &+ 1]
                    while k < kEnd {
                        let lit = lits[bucketItems[k]]
                        k &+= 1
                        guard i &+ lit.length <= n else { continue }
                        var j = 0
                        if lit.caseInsensitive {
                            while j < lit.length, Self.lower(p[i &+ j]) == bytes[lit.start &+ j] { j &+= 1 }
                        } else {
                            while j < lit.length, p[i &+ j] == bytes[lit.start &+ j] { j &+= 1 }
                        }
                        if j == lit.length { count &+= 1 }
                    }
                    i &+= 1
                }
            }
            return count
        }

        typealias FlatLiteral = (start: Int, length: Int, caseInsensitive: Bool)

        @inline(__always)
        func withTables(_ body: (UnsafeBufferPointer<UInt64>, UnsafeBufferPointer<UInt8>, UnsafeBufferPointer<FlatLiteral>,
                                 UnsafeBufferPointer<Int>, UnsafeBufferPointer<Int>) -> Void) {
            pairs.withUnsafeBufferPointer { pairs in
                flatBytes.withUnsafeBufferPointer { bytes in
                    flatLiteral.withUnsafeBufferPointer { lits in
                        bucketStart.withUnsafeBufferPointer { starts in
                            bucketItems.withUnsafeBufferPointer { items in body(pairs, bytes, lits, starts, items) }
                        }
                    }
                }
            }
        }

        func candidate(_ lit: Literal, _ p: UnsafeBufferPointer<UInt8>, at i: Int) -> Hit? {
            let pi = lit.pattern
            let pattern = patterns[pi]
            if lit.isContextKey { return contextCandidate(pi, p, keyStart: i, keyEnd: i + lit.bytes.count) }
            // A prefix glued to a preceding letter, digit, `_` or `-` is part of another word
            // ("task-list", "cache-key-…").
            if i > 0, Self.isAlnum(lit.bytes[0]), Self.isWord(p[i - 1]) { return nil }
            let bodyStart = i + lit.bytes.count
            if pattern.structure == .pemPrivateKey {
                guard let end = pemEnd(p, bodyStart: bodyStart, pi) else { return nil }
                return accept(pi, p, i..<end).map { Hit(pattern: pi, range: i..<end, match: $0) }
            }
            guard let end = body(pi, p, from: bodyStart, boundedByCharset: true) else { return nil }
            let range = pattern.includePrefix ? i..<end : bodyStart..<end
            guard let m = accept(pi, p, range, bodyStart: bodyStart) else { return nil }
            return Hit(pattern: pi, range: range, match: m)
        }

        /// `key` then, within a few characters, `=` or `:` (also `:=`, `=>`), optional quotes and
        /// spaces, and the value.
        func contextCandidate(_ pi: Int, _ p: UnsafeBufferPointer<UInt8>, keyStart: Int, keyEnd: Int) -> Hit? {
            let pattern = patterns[pi]
            let n = p.count
            var j = keyEnd
            if j < n, p[j] == 0x22 || p[j] == 0x27 { j += 1 }
            var spaces = 0
            while j < n, p[j] == 0x20 || p[j] == 0x09, spaces < 3 { j += 1; spaces += 1 }
            guard j < n, p[j] == 0x3D || p[j] == 0x3A else { return nil }
            j += 1
            if j < n, p[j] == 0x3D || p[j] == 0x3E { j += 1 }
            spaces = 0
            while j < n, p[j] == 0x20 || p[j] == 0x09, spaces < 3 { j += 1; spaces += 1 }
            if j < n, p[j] == 0x22 || p[j] == 0x27 { j += 1 }
            if !pattern.excludeKeys.isEmpty {
                var s = keyStart
                while s > 0, Self.isAlnum(p[s - 1]) || p[s - 1] == 0x5F || p[s - 1] == 0x2D { s -= 1 }
                let name = String(decoding: UnsafeBufferPointer(rebasing: p[s..<keyEnd]), as: UTF8.self).lowercased()
                if pattern.excludeKeys.contains(name) { return nil }
            }
            guard let end = body(pi, p, from: j, boundedByCharset: true) else { return nil }
            guard let m = accept(pi, p, j..<end) else { return nil }
            return Hit(pattern: pi, range: j..<end, match: m)
        }

        /// End of the body starting at `start`: the maximal run of charset bytes, which must be
        /// within the pattern's lengths (a longer run is some other, longer thing).
        func body(_ pi: Int, _ p: UnsafeBufferPointer<UInt8>, from start: Int, boundedByCharset: Bool) -> Int? {
            let pattern = patterns[pi]
            let table = charsets[pi]
            let limit = min(p.count, start + pattern.maxLength + 1)
            var j = start
            while j < limit, table[Int(p[j])] { j += 1 }
            let length = j - start
            guard length >= pattern.minLength, length <= pattern.maxLength else { return nil }
            return j
        }

        /// Checks beyond the charset: parts, structure, checksum, entropy, allow-list.
        func accept(_ pi: Int, _ p: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, bodyStart: Int? = nil) -> SecretMatch? {
            let pattern = patterns[pi]
            let body = UnsafeBufferPointer(rebasing: p[(bodyStart ?? range.lowerBound)..<range.upperBound])
            let value = UnsafeBufferPointer(rebasing: p[range])
            if let sep = pattern.partSeparator?.utf8.first, !Self.partsMatch(body, sep, pattern.parts) { return nil }
            if let structure = pattern.structure, structure != .pemPrivateKey,
               !SecretStructures.check(structure, body) { return nil }
            if pattern.checksum == .githubCRC32, !SecretCodec.githubChecksumValid(body) { return nil }
            if pattern.minEntropy > 0, pattern.structure != .pemPrivateKey,
               SecretCodec.entropy(body) < pattern.minEntropy { return nil }
            let bytes = Array(value)
            if allow[pi].contains(bytes) { return nil }
            return SecretMatch(pattern: pattern.id, value: String(decoding: bytes, as: UTF8.self))
        }

        static func partsMatch(_ body: UnsafeBufferPointer<UInt8>, _ sep: UInt8, _ parts: [ClosedRange<Int>]) -> Bool {
            var index = 0, length = 0
            for b in body {
                if b == sep {
                    guard index < parts.count, parts[index].contains(length) else { return false }
                    index += 1; length = 0
                } else {
                    length += 1
                }
            }
            return index == parts.count - 1 && parts[index].contains(length)
        }

        /// PEM private key: the label, then base64 lines up to the matching END line. Without an
        /// END line (a truncated paste) the key is taken as far as its base64 lines go.
        func pemEnd(_ p: UnsafeBufferPointer<UInt8>, bodyStart: Int, _ pi: Int) -> Int? {
            let n = p.count
            var j = bodyStart
            for label in ["RSA ", "EC ", "DSA ", "OPENSSH ", "ENCRYPTED "] {
                let l = Array(label.utf8)
                if j + l.count <= n, p[j..<(j + l.count)].elementsEqual(l) { j += l.count; break }
            }
            let tail = Array("PRIVATE KEY-----".utf8)
            guard j + tail.count <= n, p[j..<(j + tail.count)].elementsEqual(tail) else { return nil }
            j += tail.count
            // Encapsulated headers of legacy encrypted keys (`Proc-Type: 4,ENCRYPTED`, `DEK-Info: …`).
            for _ in 0..<4 {
                var k = j
                while k < n, p[k] == 0x0A || p[k] == 0x0D { k += 1 }
                var e = k, colon = false
                while e < n, e - k < 128, p[e] != 0x0A { if p[e] == 0x3A { colon = true }; e += 1 }
                guard colon, e < n else { break }
                j = e
            }
            let bodyFrom = j
            let limit = min(n, bodyFrom + patterns[pi].maxLength)
            let table = charsets[pi]
            var base64Count = 0
            while j < limit, table[Int(p[j])] || p[j] == 0x0A || p[j] == 0x0D || p[j] == 0x20 {
                if p[j] != 0x0A && p[j] != 0x0D && p[j] != 0x20 { base64Count += 1 }
                j += 1
            }
            guard base64Count >= patterns[pi].minLength else { return nil }
            // The END line, if it follows.
            let end = Array("-----END ".utf8)
            if j + end.count <= n, p[j..<(j + end.count)].elementsEqual(end) {
                var k = j + end.count
                let close = Array("PRIVATE KEY-----".utf8)
                let stop = min(n, k + 32)
                while k + close.count <= stop {
                    if p[k..<(k + close.count)].elementsEqual(close) { return k + close.count }
                    k += 1
                }
            }
            // Trailing line breaks are not part of the key.
            while j > bodyFrom, p[j - 1] == 0x0A || p[j - 1] == 0x0D || p[j - 1] == 0x20 { j -= 1 }
            return j
        }
    }
}

// Measurement hooks for `mcpsonar bench --secrets-strings` (docs/performance.md, "Secret
// scanning: Vectorscan against the hand-written prefilter"): the stages of `scan(utf8:)` apart.
extension SecretScanner {
    /// How many (literal, position) pairs the prefilter finds in `buffer`, without validating any:
    /// the stage a multi-pattern engine such as Vectorscan would replace.
    package func literalHits(utf8 buffer: UnsafeBufferPointer<UInt8>) -> Int {
        compiled.countLiteralHits(buffer)
    }

    /// How many secrets `buffer` holds as written: prefilter and validation, without the
    /// decode-and-rescan that `scan(utf8:)` adds.
    package func matchesAsWritten(utf8 buffer: UnsafeBufferPointer<UInt8>) -> Int {
        var out: [SecretMatch] = []
        compiled.scanRaw(buffer, into: &out)
        return out.count
    }
}

/// The fixed structural validators (`structure:` in the configuration).
enum SecretStructures {
    static func check(_ s: SecretStructure, _ body: UnsafeBufferPointer<UInt8>) -> Bool {
        switch s {
        case .jwt: return jwt(body)
        case .slackToken: return slackToken(body)
        case .slackWebhook: return slackWebhook(body)
        case .basicAuth: return basicAuth(body)
        case .pemPrivateKey: return true
        }
    }

    static func split(_ body: UnsafeBufferPointer<UInt8>, _ sep: UInt8) -> [UnsafeBufferPointer<UInt8>] {
        var out: [UnsafeBufferPointer<UInt8>] = []
        var start = 0
        for (i, b) in body.enumerated() where b == sep {
            out.append(UnsafeBufferPointer(rebasing: body[start..<i]))
            start = i + 1
        }
        out.append(UnsafeBufferPointer(rebasing: body[start...]))
        return out
    }

    /// The body follows the `eyJ` prefix, so the header is `eyJ` + the first part. The signature
    /// may be empty (`alg: none`), the header and payload may not.
    static func jwt(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        let parts = split(body, 0x2E)
        guard parts.count == 3, parts[0].count >= 8, parts[1].count >= 2 else { return false }
        let header: [UInt8] = Array("eyJ".utf8) + Array(parts[0])
        guard let decoded = header.withUnsafeBufferPointer({ SecretCodec.decodeBase64($0) }),
              decoded.first == 0x7B else { return false }
        let alg = Array("\"alg\"".utf8)
        guard decoded.count >= alg.count else { return false }
        for k in 0...(decoded.count - alg.count) where decoded[k..<(k + alg.count)].elementsEqual(alg) { return true }
        return false
    }

    static func slackToken(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        let parts = split(body, 0x2D)
        guard parts.count >= 2, parts.allSatisfy({ !$0.isEmpty }) else { return false }
        return parts.contains { $0.count >= 6 && $0.allSatisfy { $0 >= 0x30 && $0 <= 0x39 } }
    }

    static func slackWebhook(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        let parts = split(body, 0x2F)
        guard parts.count == 3 else { return false }
        func id(_ part: UnsafeBufferPointer<UInt8>, _ first: UInt8) -> Bool {
            part.count >= 9 && part.count <= 16 && part[0] == first
                && part.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) }
        }
        return id(parts[0], 0x54) && id(parts[1], 0x42) && parts[2].count == 24
            && parts[2].allSatisfy(SecretScanner.Compiled.isAlnum)
    }

    /// `user:password`, printable ASCII, both sides non-empty.
    static func basicAuth(_ body: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let decoded = SecretCodec.decodeBase64(body), decoded.count >= 3,
              decoded.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }),
              let colon = decoded.firstIndex(of: 0x3A) else { return false }
        return colon > 0 && colon < decoded.count - 1
    }
}
