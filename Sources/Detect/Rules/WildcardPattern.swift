// Sigma string values: `*` and `?` wildcards, backslash escapes, case-insensitive by default.

import SonarCore

/// A compiled Sigma string value. `*` matches any run of characters (none included), `?` exactly
/// one character; `\*`, `\?` and `\\` are the literal characters, and a backslash before anything
/// else is itself literal (the Sigma specification's escaping). Matching works on UTF-8 bytes
/// without allocating: the pattern is lowercased once at load and an ASCII field value is folded
/// byte by byte; only a value holding non-ASCII characters is lowercased as a whole first.
struct WildcardPattern: Sendable, Equatable {
    enum Piece: Sendable, Equatable { case literal(String), one, many }
    enum Shape: Sendable, Equatable {
        case exact([UInt8]), prefix([UInt8]), suffix([UInt8]), contains([UInt8])
        case anything
        case glob([Op])
    }
    enum Op: Sendable, Equatable { case byte(UInt8), one, many }

    let shape: Shape
    let caseSensitive: Bool

    /// Splits a Sigma value into literal runs and wildcards.
    static func pieces(_ value: String) -> [Piece] {
        var out: [Piece] = []
        var lit = ""
        var chars = value.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = chars.next()
        func flush() { if !lit.isEmpty { out.append(.literal(lit)); lit = "" } }
        while let c = pending {
            pending = chars.next()
            switch c {
            case "\\":
                if let n = pending, n == "*" || n == "?" || n == "\\" {
                    lit.unicodeScalars.append(n)
                    pending = chars.next()
                } else {
                    lit.unicodeScalars.append(c)
                }
            case "*": flush(); out.append(.many)
            case "?": flush(); out.append(.one)
            default: lit.unicodeScalars.append(c)
            }
        }
        flush()
        return out
    }

    /// A pattern from literal text and wildcards (`pieces` of a Sigma value, possibly wrapped
    /// in `.many` by `contains`/`startswith`/`endswith`).
    init(pieces raw: [Piece], caseSensitive: Bool) {
        self.caseSensitive = caseSensitive
        // Merge literals, collapse runs of `*`.
        var ps: [Piece] = []
        for p in raw {
            switch (ps.last, p) {
            case (.many?, .many): continue
            case (.literal(let a)?, .literal(let b)):
                ps[ps.count - 1] = .literal(a + b)
            default: ps.append(p)
            }
        }
        func bytes(_ s: String) -> [UInt8] { Array((caseSensitive ? s : s.lowercased()).utf8) }
        switch ps.count {
        case 0: shape = .exact([]); return
        case 1:
            if case .literal(let a) = ps[0] { shape = .exact(bytes(a)); return }
            if case .many = ps[0] { shape = .anything; return }
        case 2:
            if case .literal(let a) = ps[0], case .many = ps[1] { shape = .prefix(bytes(a)); return }
            if case .many = ps[0], case .literal(let a) = ps[1] { shape = .suffix(bytes(a)); return }
        case 3:
            if case .many = ps[0], case .literal(let a) = ps[1], case .many = ps[2] { shape = .contains(bytes(a)); return }
        default: break
        }
        var ops: [Op] = []
        for p in ps {
            switch p {
            case .literal(let a): ops.append(contentsOf: bytes(a).map { .byte($0) })
            case .one: ops.append(.one)
            case .many: ops.append(.many)
            }
        }
        shape = .glob(ops)
    }

    /// A Sigma value under a match modifier: `.exact` (no modifier), `contains`, `startswith`, `endswith`.
    init(sigma value: String, mode: TextMode, caseSensitive: Bool) {
        var ps = Self.pieces(value)
        switch mode {
        case .exact: break
        case .contains: ps.insert(.many, at: 0); ps.append(.many)
        case .startsWith: ps.append(.many)
        case .endsWith: ps.insert(.many, at: 0)
        }
        self.init(pieces: ps, caseSensitive: caseSensitive)
    }

    enum TextMode: Sendable { case exact, contains, startsWith, endsWith }

    func matches(_ value: String) -> Bool {
        Self.matchesAny(CollectionOfOne(self), value)
    }

    /// True if any of `patterns` matches `value`; the value's bytes are read (and, when it holds
    /// non-ASCII characters, lowercased) once for all of them.
    static func matchesAny(_ patterns: some Collection<WildcardPattern>, _ value: String) -> Bool {
        value.withUTF8Bytes { raw -> Bool in
            var ascii = true
            for b in raw where b >= 0x80 { ascii = false; break }
            var lowered: String?
            for p in patterns {
                if case .anything = p.shape { return true }
                if p.caseSensitive || ascii {
                    if p.run(raw, fold: !p.caseSensitive) { return true }
                } else {
                    if lowered == nil { lowered = value.lowercased() }
                    if var l = lowered, l.withUTF8({ p.run($0, fold: false) }) { return true }
                }
            }
            return false
        }
    }

    /// `matchesAny` for one case-insensitive `.exact` shape given by its folded bytes (a rule's
    /// gate keeps only those): an ASCII value folded byte by byte, any other lowercased whole.
    static func equalsFolded(_ value: String, _ folded: UnsafeBufferPointer<UInt8>) -> Bool {
        value.withUTF8Bytes { raw -> Bool in
            for b in raw where b >= 0x80 { return Array(value.lowercased().utf8).elementsEqual(folded) }
            guard raw.count == folded.count else { return false }
            for k in 0..<raw.count where f(raw[k], true) != folded[k] { return false }
            return true
        }
    }

    @inline(__always)
    private static func f(_ b: UInt8, _ fold: Bool) -> UInt8 {
        fold && b >= 0x41 && b <= 0x5A ? b | 0x20 : b
    }

    private func run(_ v: UnsafeBufferPointer<UInt8>, fold: Bool) -> Bool {
        switch shape {
        case .anything: return true
        case .exact(let p):
            return p.count == v.count && Self.equal(v, 0, p, fold)
        case .prefix(let p):
            return p.count <= v.count && Self.equal(v, 0, p, fold)
        case .suffix(let p):
            return p.count <= v.count && Self.equal(v, v.count - p.count, p, fold)
        case .contains(let p):
            if p.isEmpty { return true }
            if p.count > v.count { return false }
            let first = p[0]
            var i = 0
            let last = v.count - p.count
            while i <= last {
                if Self.f(v[i], fold) == first && Self.equal(v, i, p, fold) { return true }
                i += 1
            }
            return false
        case .glob(let ops):
            return Self.glob(v, ops, fold)
        }
    }

    @inline(__always)
    private static func equal(_ v: UnsafeBufferPointer<UInt8>, _ at: Int, _ p: [UInt8], _ fold: Bool) -> Bool {
        var j = 0
        while j < p.count {
            if f(v[at + j], fold) != p[j] { return false }
            j += 1
        }
        return true
    }

    /// Length of the UTF-8 sequence starting with `b` (1 for a stray continuation byte).
    @inline(__always)
    private static func scalarLength(_ b: UInt8) -> Int {
        b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
    }

    /// Wildcard matching with single-star backtracking: O(n·m) at worst, no allocation.
    private static func glob(_ v: UnsafeBufferPointer<UInt8>, _ ops: [Op], _ fold: Bool) -> Bool {
        var s = 0, p = 0
        var starP = -1, starS = 0
        let n = v.count, m = ops.count
        while s < n {
            if p < m {
                switch ops[p] {
                case .byte(let b):
                    if f(v[s], fold) == b { s += 1; p += 1; continue }
                case .one:
                    let len = scalarLength(v[s])
                    if s + len <= n { s += len; p += 1; continue }
                case .many:
                    starP = p; starS = s; p += 1
                    continue
                }
            }
            if starP >= 0 {
                starS += scalarLength(v[starS])
                if starS > n { return false }
                s = starS
                p = starP + 1
                continue
            }
            return false
        }
        while p < m, case .many = ops[p] { p += 1 }
        return p == m
    }
}
