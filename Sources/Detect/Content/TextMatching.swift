// Byte-level matchers shared by the content detectors: phrase patterns, file-name needles,
// command words. All work on UTF-8 bytes with ASCII case folding; none allocates per byte.

enum ByteClass {
    @inline(__always) static func lower(_ b: UInt8) -> UInt8 { b &- 0x41 < 26 ? b | 0x20 : b }
    /// ASCII letters, digits and `_`: what a "whole word" is bounded by. Bytes of non-ASCII text
    /// are not word bytes, so a phrase followed by an invisible character still counts as whole.
    @inline(__always) static func isWordByte(_ b: UInt8) -> Bool {
        (b | 0x20) &- 0x61 < 26 || b &- 0x30 < 10 || b == 0x5F
    }
    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 || b &- 0x30 < 10 }
    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }
    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
    /// For file names: lower case, and `\` read as `/` so Windows paths match the same entries.
    @inline(__always) static func pathFold(_ b: UInt8) -> UInt8 { b == 0x5C ? 0x2F : lower(b) }

    /// Length of the whitespace at `i` (ASCII blanks and U+00A0, which attackers use to dodge
    /// phrase lists); 0 if none.
    @inline(__always) static func spaceLength(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        guard i < b.count else { return 0 }
        if isSpace(b[i]) { return 1 }
        if b[i] == 0xC2 && i &+ 1 < b.count && b[i &+ 1] == 0xA0 { return 2 }
        return 0
    }
}

/// Case-insensitive whole-phrase patterns. Syntax of one entry: tokens separated by spaces; a
/// token is a literal (`<important>`, `[inst]`), a required alternative `(previous|prior)` or an
/// optional one `(all|any)?`. Between tokens any run of whitespace matches.
struct PhraseSet: Sendable {
    struct Token: Sendable {
        var alternatives: [[UInt8]]
        var optional: Bool
    }
    struct Phrase: Sendable {
        var text: String
        var tokens: [Token]
    }
    private(set) var phrases: [Phrase] = []
    /// Phrase indices by the (lower-case) first byte they can start with, flat: the phrases for
    /// byte `c` are `ids[starts[c]..<starts[c + 1]]` (no array retained per byte scanned).
    private var starts: [Int32] = Array(repeating: 0, count: 257)
    private var ids: [Int32] = []
    /// The prefilter: which (first, second) lower-case byte pairs can start a phrase.
    private var pairs = BytePairs()

    var isEmpty: Bool { phrases.isEmpty }

    /// Adds one entry; returns why it is invalid, or nil.
    mutating func add(_ text: String) -> String? {
        var tokens: [Token] = []
        for word in text.split(separator: " ") {
            var w = Substring(word)
            var optional = false
            var group = false
            if w.hasPrefix("("), w.hasSuffix(")?"), w.count > 3 {
                optional = true; group = true; w = w.dropFirst().dropLast(2)
            } else if w.hasPrefix("("), w.hasSuffix(")"), w.count > 2 {
                group = true; w = w.dropFirst().dropLast()
            }
            // Only a group splits on `|`: a literal such as `<|im_start|>` keeps its bars.
            let pieces = group ? w.split(separator: "|", omittingEmptySubsequences: false) : [w]
            let alts = pieces.map { Array($0.utf8).map(ByteClass.lower) }
            if alts.contains(where: { $0.isEmpty }) { return "empty alternative in phrase: \(text)" }
            tokens.append(Token(alternatives: alts, optional: optional))
        }
        guard let first = tokens.first else { return "empty phrase" }
        if first.optional { return "a phrase must not start with an optional token: \(text)" }
        phrases.append(Phrase(text: text, tokens: tokens))
        var byFirst: [[Int32]] = Array(repeating: [], count: 256)
        pairs = BytePairs()
        for (index, phrase) in phrases.enumerated() {
            guard let first = phrase.tokens.first else { continue }
            for alt in first.alternatives {
                guard let b = alt.first else { continue }
                if !byFirst[Int(b)].contains(Int32(index)) { byFirst[Int(b)].append(Int32(index)) }
                // A one-byte first token continues with whitespace: any second byte.
                if alt.count >= 2 { pairs.insert(b, alt[1]) } else { pairs.insertAll(b) }
            }
        }
        (starts, ids) = flatten(byFirst)
        return nil
    }

    /// The first whole-phrase match: its byte range and the phrase's index.
    func firstMatch(_ b: UnsafeBufferPointer<UInt8>) -> (range: Range<Int>, phrase: Int)? {
        guard !phrases.isEmpty else { return nil }
        var i = 0
        let n = b.count
        while i < n {
            let c = ByteClass.lower(b[i])
            let next: UInt8 = i &+ 1 < n ? ByteClass.lower(b[i &+ 1]) : 0
            // Phrases starting with a word byte start only at a word start.
            if pairs.contains(c, next) && !(ByteClass.isWordByte(c) && i > 0 && ByteClass.isWordByte(b[i &- 1])) {
                for k in Int(starts[Int(c)])..<Int(starts[Int(c) &+ 1]) {
                    let p = Int(ids[k])
                    if let end = match(b, i, phrases[p].tokens, 0, needSpace: false) {
                        let last = b[end &- 1]
                        if ByteClass.isWordByte(last) && end < n && ByteClass.isWordByte(b[end]) { continue }
                        return (i..<end, p)
                    }
                }
            }
            i &+= 1
        }
        return nil
    }

    private func match(_ b: UnsafeBufferPointer<UInt8>, _ pos: Int, _ tokens: [Token], _ k: Int, needSpace: Bool) -> Int? {
        if k == tokens.count { return pos }
        let t = tokens[k]
        var start = pos
        if needSpace {
            var s = ByteClass.spaceLength(b, start)
            guard s > 0 else { return t.optional ? match(b, pos, tokens, k &+ 1, needSpace: needSpace) : nil }
            while s > 0 { start &+= s; s = ByteClass.spaceLength(b, start) }
        }
        for alt in t.alternatives where start &+ alt.count <= b.count {
            var j = 0
            while j < alt.count && ByteClass.lower(b[start &+ j]) == alt[j] { j &+= 1 }
            guard j == alt.count else { continue }
            let end = start &+ alt.count
            // A word token must end at a word boundary (so `post` does not match `poster`).
            if let last = alt.last, ByteClass.isWordByte(last), end < b.count, ByteClass.isWordByte(b[end]) { continue }
            if let e = match(b, end, tokens, k &+ 1, needSpace: true) { return e }
        }
        if t.optional { return match(b, pos, tokens, k &+ 1, needSpace: needSpace) }
        return nil
    }
}

/// File and directory names (`.ssh`, `id_rsa`, `/etc/shadow`) found inside longer text,
/// case-insensitively and with `\` read as `/`. Boundaries: an entry that starts with a letter,
/// digit or `.` must not continue a word or a dotted name before it (`process.env` is not
/// `.env`); one that ends with a letter or digit must not run on into one (`id_rsa2`, `.envrc`).
struct NeedleSet: Sendable {
    private(set) var entries: [[UInt8]] = []
    private var starts: [Int32] = Array(repeating: 0, count: 257)
    private var ids: [Int32] = []
    private var pairs = BytePairs()

    init() {}
    init(_ texts: [String]) {
        var byFirst: [[Int32]] = Array(repeating: [], count: 256)
        for t in texts {
            let e = Array(t.utf8).map(ByteClass.pathFold)
            guard let f = e.first else { continue }
            byFirst[Int(f)].append(Int32(entries.count))
            if e.count >= 2 { pairs.insert(f, e[1]) } else { pairs.insertAll(f) }
            entries.append(e)
        }
        (starts, ids) = flatten(byFirst)
    }

    var isEmpty: Bool { entries.isEmpty }

    func firstMatch(_ b: UnsafeBufferPointer<UInt8>) -> (range: Range<Int>, entry: Int)? {
        guard !entries.isEmpty else { return nil }
        let n = b.count
        var i = 0
        while i < n {
            let c = ByteClass.pathFold(b[i])
            let next: UInt8 = i &+ 1 < n ? ByteClass.pathFold(b[i &+ 1]) : 0
            if pairs.contains(c, next) {
                for k in Int(starts[Int(c)])..<Int(starts[Int(c) &+ 1]) {
                    let e = Int(ids[k])
                    let needle = entries[e]
                    guard i &+ needle.count <= n else { continue }
                    var j = 0
                    while j < needle.count && ByteClass.pathFold(b[i &+ j]) == needle[j] { j &+= 1 }
                    guard j == needle.count else { continue }
                    let first = needle[0], last = needle[needle.count &- 1]
                    if (ByteClass.isAlnum(first) || first == 0x2E) && i > 0 {
                        let p = b[i &- 1]
                        if ByteClass.isWordByte(p) || p == 0x2E || p == 0x2D { continue }
                    }
                    let end = i &+ needle.count
                    if ByteClass.isAlnum(last) && end < n && ByteClass.isAlnum(b[end]) { continue }
                    return (i..<end, e)
                }
            }
            i &+= 1
        }
        return nil
    }
}

/// Which two-byte prefixes can start an entry: one bit per (first, second) pair, 8 KiB.
struct BytePairs: Sendable {
    private var bits: [UInt64] = Array(repeating: 0, count: 1024)
    mutating func insert(_ a: UInt8, _ b: UInt8) {
        let k = Int(a) << 8 | Int(b)
        bits[k >> 6] |= 1 << UInt64(k & 63)
    }
    mutating func insertAll(_ a: UInt8) {
        for k in 0..<4 { bits[Int(a) << 2 | k] = ~0 }
    }
    @inline(__always) func contains(_ a: UInt8, _ b: UInt8) -> Bool {
        let k = Int(a) << 8 | Int(b)
        return bits[k >> 6] & (1 << UInt64(k & 63)) != 0
    }
}

/// Lists by first byte as one flat array and 257 offsets.
func flatten(_ byFirst: [[Int32]]) -> (starts: [Int32], ids: [Int32]) {
    var starts: [Int32] = [0]
    var ids: [Int32] = []
    for list in byFirst {
        ids.append(contentsOf: list)
        starts.append(Int32(ids.count))
    }
    return (starts, ids)
}

/// A set of command names (`curl`, `bash`): `command(_:at:)` reads the command at a position the
/// way a shell would see it (after blanks, through a directory prefix such as `/usr/bin/`,
/// without `.exe`) and says whether it is one of them. Compared in place: no allocation per word.
struct WordSet: Sendable {
    private var buckets: [[[UInt8]]] = Array(repeating: [], count: 256)
    private(set) var isEmpty = true

    init() {}
    init(_ texts: [String]) {
        for t in texts {
            let w = Array(t.utf8).map(ByteClass.lower)
            guard let f = w.first else { continue }
            buckets[Int(f)].append(w)
            isEmpty = false
        }
    }

    /// Whether the bytes in `range` (case-folded, `.exe` dropped) are one of the words.
    func matches(_ b: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Bool {
        guard !range.isEmpty else { return false }
        var length = range.count
        if length > 4 && hasPrefixFold(b, range.upperBound &- 4, ".exe") { length &-= 4 }
        for w in buckets[Int(ByteClass.lower(b[range.lowerBound]))] where w.count == length {
            var j = 0
            while j < length && ByteClass.lower(b[range.lowerBound &+ j]) == w[j] { j &+= 1 }
            if j == length { return true }
        }
        return false
    }

    func contains(_ w: [UInt8]) -> Bool {
        w.withUnsafeBufferPointer { matches($0, 0..<$0.count) }
    }

    /// The command word starting at `i` after optional blanks (not newlines): its end, if it is
    /// in the set and is followed by a blank, a shell operator or the end of the text.
    func command(_ b: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        var s = i
        while s < b.count && (b[s] == 0x20 || b[s] == 0x09) { s &+= 1 }
        let t = Self.token(b, at: s)
        return matches(b, t.name) ? t.end : nil
    }

    /// The shell token at `s`: where it ends, and its last path component (`sh` of `/bin/sh`).
    static func token(_ b: UnsafeBufferPointer<UInt8>, at s: Int) -> (name: Range<Int>, end: Int) {
        var e = s
        var nameStart = s
        while e < b.count && !endsToken(b[e]) {
            if b[e] == 0x2F || b[e] == 0x5C { nameStart = e &+ 1 }
            e &+= 1
        }
        return (min(nameStart, e)..<e, e)
    }

    /// Where a shell token ends: blanks, operators, quotes, substitution and redirection.
    @inline(__always) static func endsToken(_ c: UInt8) -> Bool {
        switch c {
        case 0x20, 0x09, 0x0A, 0x0D, 0x3B, 0x7C, 0x26, 0x60, 0x24, 0x28, 0x29, 0x3C, 0x3E, 0x22, 0x27: return true
        default: return false
        }
    }
}

/// Readable evidence for text that is not a secret: invisible and control characters written as
/// `\u{XXXX}`, runs of Unicode TAG characters shown decoded as `⟦tags:...⟧`, at most `limit`
/// characters, starting a little before the first offending character so it is always in view.
enum Excerpt {
    static let limit = 120

    static func isHidden(_ v: UInt32) -> Bool {
        v < 0x20 || (v >= 0x7F && v <= 0x9F) || v == 0xAD || (v >= 0x200B && v <= 0x200F)
            || (v >= 0x202A && v <= 0x202E) || (v >= 0x2060 && v <= 0x2064) || (v >= 0x2066 && v <= 0x2069)
            || v == 0xFEFF || v == 0x180E || v == 0x034F
    }

    static func isTag(_ v: UInt32) -> Bool { v >= 0xE0000 && v <= 0xE007F }

    /// The ASCII a run of TAG characters spells (U+E0020–U+E007E map to ASCII; the language tag
    /// U+E0001 and CANCEL TAG U+E007F spell nothing).
    static func decodeTag(_ v: UInt32) -> Unicode.Scalar? {
        let a = v &- 0xE0000
        return a >= 0x20 && a <= 0x7E ? Unicode.Scalar(a) : nil
    }

    /// `scalars` rendered from about `context` scalars before `focus`.
    static func render(_ scalars: [Unicode.Scalar], focus: Int, context: Int = 16) -> String {
        let start = max(0, focus &- context)
        var out = start > 0 ? "…" : ""
        var length = out.unicodeScalars.count
        var i = start
        while i < scalars.count {
            var piece = ""
            let v = scalars[i].value
            if isTag(v) {
                var decoded = ""
                while i < scalars.count && isTag(scalars[i].value) {
                    if let a = decodeTag(scalars[i].value) { decoded.unicodeScalars.append(a) }
                    i &+= 1
                }
                piece = "⟦tags:" + decoded + "⟧"
            } else {
                if isHidden(v) {
                    piece = "\\u{" + hex(v) + "}"
                } else {
                    piece.unicodeScalars.append(scalars[i])
                }
                i &+= 1
            }
            let pieceLength = piece.unicodeScalars.count
            if length &+ pieceLength > limit || (length &+ pieceLength == limit && i < scalars.count) {
                // Cut to fit, leaving room for the ellipsis.
                let room = max(0, limit &- 1 &- length)
                out.unicodeScalars.append(contentsOf: piece.unicodeScalars.prefix(room))
                out += "…"
                return out
            }
            out += piece
            length &+= pieceLength
        }
        return out
    }

    /// Plain text cut to `limit` characters (with `…` when cut), hidden characters escaped.
    static func plain(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> String {
        // 120 characters need at most 480 bytes (plus room to see that it was cut): decode no more,
        // ending on a character boundary.
        var upper = min(range.upperBound, range.lowerBound &+ 4 &* limit &+ 4)
        while upper < range.upperBound && upper > range.lowerBound && bytes[upper] & 0xC0 == 0x80 { upper &-= 1 }
        let s = String(decoding: UnsafeBufferPointer(rebasing: bytes[range.lowerBound..<upper]), as: UTF8.self)
        return render(Array(s.unicodeScalars), focus: 0)
    }

    static func hex(_ v: UInt32) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return h.count < 4 ? String(repeating: "0", count: 4 &- h.count) + h : h
    }
}
