import SonarCore

// The tape builder: one forward pass, an explicit stack of open containers, no recursion, and
// no allocation besides the tape. Strings are validated here but decoded lazily.
//
// The stack lives in the tape: while a container is open its `next` field (only known when it
// closes) holds the index of the enclosing open container, so opening and closing are O(1) and
// need no second array.

/// Parses `n` bytes at `p` into `nodes`. Internal: `JSONDocument.parse` is the entry point.
struct JSONParser {
    let p: UnsafePointer<UInt8>
    let n: Int
    let limits: JSONLimits
    var nodes: [JSONNode] = []
    var hasUnicodeRepairs = false

    init(p: UnsafePointer<UInt8>, n: Int, limits: JSONLimits) {
        self.p = p
        self.n = n
        self.limits = limits
        // Small MCP messages have a node every 6-10 bytes; cap the guess so a large string-heavy
        // body does not reserve tens of megabytes it will never use.
        nodes.reserveCapacity(min(n / 4 + 16, 65_536, max(limits.maxElements, 1)))
    }

    @inline(__always)
    func invalid(_ at: Int, _ reason: String) -> JSONError {
        .invalid(offset: at, reason: reason)
    }

    @inline(__always)
    func skipWhitespace(_ from: Int) -> Int {
        var i = from
        while i < n {
            let c = p[i]
            // Anything above space is never whitespace: the common case exits at once.
            if c > 0x20 { return i }
            guard c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 else { return i }
            i &+= 1
        }
        return i
    }

    @inline(__always)
    mutating func append(_ kind: JSONKind, _ start: Int, _ end: Int, _ flags: UInt8) throws(JSONError) {
        let index = nodes.count
        if index >= limits.maxElements { throw .tooManyElements }
        nodes.append(JSONNode(start: UInt32(truncatingIfNeeded: start), end: UInt32(truncatingIfNeeded: end),
                              next: UInt32(truncatingIfNeeded: index &+ 1), count: 0, kind: kind, flags: flags))
    }

    mutating func parse() throws(JSONError) {
        var i = 0
        // RFC 8259 8.1 lets a parser ignore a leading UTF-8 byte order mark; Python's
        // json.loads(bytes) does, so we do too (offsets stay relative to the input).
        if n >= 3, p[0] == 0xEF, p[1] == 0xBB, p[2] == 0xBF { i = 3 }
        i = skipWhitespace(i)
        if i >= n { throw .empty }

        var top = -1   // innermost open container, -1 at top level
        var depth = 0

        outer: while true {
            // Expecting a value at `i`; whitespace already skipped.
            guard i < n else { throw invalid(i, "unexpected end of input") }
            let c = p[i]
            switch c {
            case 0x7B, 0x5B: // { [
                if depth >= limits.maxDepth { throw .tooDeep }
                let index = nodes.count
                try append(c == 0x7B ? .object : .array, i, i, 0)
                nodes[index].next = UInt32(truncatingIfNeeded: top) // parent link; -1 becomes UInt32.max
                top = index
                depth &+= 1
                i = skipWhitespace(i &+ 1)
                guard i < n else { throw invalid(i, "unexpected end of input") }
                if p[i] == c &+ 2 { // '}' is '{' + 2 and ']' is '[' + 2
                    close(index, at: i, top: &top)
                    depth &-= 1
                    i &+= 1
                } else {
                    nodes[index].count = 1
                    if c == 0x7B { i = try parseKey(i) }
                    continue outer
                }
            case 0x22:
                i = try parseString(i)
            case 0x2D, 0x30...0x39:
                i = try parseNumber(i)
            case 0x74: // true
                guard i &+ 4 <= n, p[i &+ 1] == 0x72, p[i &+ 2] == 0x75, p[i &+ 3] == 0x65 else {
                    throw invalid(i, "invalid literal")
                }
                try append(.bool, i, i &+ 4, JSONNode.isTrue)
                i &+= 4
            case 0x66: // false
                guard i &+ 5 <= n, p[i &+ 1] == 0x61, p[i &+ 2] == 0x6C, p[i &+ 3] == 0x73, p[i &+ 4] == 0x65 else {
                    throw invalid(i, "invalid literal")
                }
                try append(.bool, i, i &+ 5, 0)
                i &+= 5
            case 0x6E: // null
                guard i &+ 4 <= n, p[i &+ 1] == 0x75, p[i &+ 2] == 0x6C, p[i &+ 3] == 0x6C else {
                    throw invalid(i, "invalid literal")
                }
                try append(.null, i, i &+ 4, 0)
                i &+= 4
            default:
                throw invalid(i, "expected a value")
            }

            // A value just ended: close containers until one wants another element.
            while true {
                i = skipWhitespace(i)
                if top < 0 { break outer }
                guard i < n else { throw invalid(i, "unexpected end of input") }
                let isObject = nodes[top].kind == .object
                let c = p[i]
                if c == 0x2C { // ,
                    nodes[top].count &+= 1
                    i = skipWhitespace(i &+ 1)
                    // A trailing comma fails here: the next token must be a key or a value.
                    if isObject { i = try parseKey(i) }
                    continue outer
                }
                guard c == (isObject ? 0x7D : 0x5D) else {
                    throw invalid(i, isObject ? "expected ',' or '}'" : "expected ',' or ']'")
                }
                close(top, at: i, top: &top)
                depth &-= 1
                i &+= 1
            }
        }
        if i != n { throw invalid(i, "trailing data after the value") }
    }

    /// Closes the container `index` whose closing bracket is at `at`; pops `top` to its parent.
    @inline(__always)
    mutating func close(_ index: Int, at: Int, top: inout Int) {
        let parent = nodes[index].next
        top = parent == UInt32.max ? -1 : Int(parent)
        nodes[index].end = UInt32(truncatingIfNeeded: at &+ 1)
        nodes[index].next = UInt32(truncatingIfNeeded: nodes.count)
    }

    /// Parses `"key"` `:` and returns the index of the member's value.
    @inline(__always)
    mutating func parseKey(_ at: Int) throws(JSONError) -> Int {
        guard at < n, p[at] == 0x22 else { throw invalid(at, "expected a string key") }
        // Two statements on purpose: in `skipWhitespace(try parseString(at))` the callee's copy of
        // `self` is taken before the argument runs, so the append inside parseString would find
        // the tape shared and copy it, making every key O(n).
        let afterKey = try parseString(at, key: JSONNode.isKey)
        let i = skipWhitespace(afterKey)
        guard i < n, p[i] == 0x3A else { throw invalid(i, "expected ':'") }
        return skipWhitespace(i &+ 1)
    }

    /// Skips bytes that need no attention inside a string: printable ASCII other than `"` and `\`.
    /// Eight bytes at a time with the usual SWAR tests; the word that stops the scan gives the
    /// place of its first such byte at once (every string ends this way, at its closing quote).
    @inline(__always)
    func scanPlain(_ from: Int) -> Int {
        var i = from
        let raw = UnsafeRawPointer(p)
        while i &+ 8 <= n {
            // Not ASCII, a control character, '"' or '\': the first marked byte is exactly the
            // first that needs attention (`ByteLanes`).
            let x = ByteLanes.load(raw, i)
            let t = ByteLanes.high(x) | ByteLanes.below(x, 0x20) | ByteLanes.equal(x, 0x22) | ByteLanes.equal(x, 0x5C)
            if t != 0 { return i &+ ByteLanes.first(t) }
            i &+= 8
        }
        while i < n {
            let c = p[i]
            if c == 0x22 || c == 0x5C || c < 0x20 || c >= 0x80 { break }
            i &+= 1
        }
        return i
    }

    /// Parses the string whose opening quote is at `at`; returns the index after its closing quote.
    mutating func parseString(_ at: Int, key: UInt8 = 0) throws(JSONError) -> Int {
        var j = at &+ 1
        var flags: UInt8 = key
        while true {
            j = scanPlain(j)
            guard j < n else { throw invalid(at, "unterminated string") }
            let c = p[j]
            if c == 0x22 { break }
            if c == 0x5C {
                flags |= JSONNode.escaped
                let (next, repaired) = try scanEscape(j)
                if repaired { flags |= JSONNode.repaired }
                j = next
            } else if c < 0x20 {
                throw invalid(j, "control character in string")
            } else {
                let len = JSONUTF8.validSequenceLength(p, j, n)
                if len == 0 {
                    if limits.strictUnicode { throw invalid(j, "invalid UTF-8") }
                    flags |= JSONNode.repaired
                    j &+= 1
                } else {
                    j &+= len
                }
            }
        }
        if j &- at &- 1 > limits.maxStringBytes { throw .stringTooLong }
        if flags & JSONNode.repaired != 0 { hasUnicodeRepairs = true }
        try append(.string, at, j &+ 1, flags)
        return j &+ 1
    }

    /// Validates the escape whose backslash is at `at`. Returns the index after it (after both
    /// halves of a surrogate pair) and whether it is an unpaired surrogate.
    @inline(__always)
    func scanEscape(_ at: Int) throws(JSONError) -> (Int, Bool) {
        guard at &+ 1 < n else { throw invalid(at, "unterminated string") }
        switch p[at &+ 1] {
        case 0x22, 0x5C, 0x2F, 0x62, 0x66, 0x6E, 0x72, 0x74: // " \ / b f n r t
            return (at &+ 2, false)
        case 0x75: // u
            guard let unit = JSONUTF8.hex4(p, at &+ 2, n) else { throw invalid(at, "invalid \\u escape") }
            if unit & 0xFC00 == 0xD800 {
                if at &+ 12 <= n, p[at &+ 6] == 0x5C, p[at &+ 7] == 0x75,
                   let low = JSONUTF8.hex4(p, at &+ 8, n), low & 0xFC00 == 0xDC00 {
                    return (at &+ 12, false)
                }
            } else if unit & 0xFC00 != 0xDC00 {
                return (at &+ 6, false)
            }
            if limits.strictUnicode { throw invalid(at, "unpaired surrogate escape") }
            return (at &+ 6, true)
        default:
            throw invalid(at, "invalid escape")
        }
    }

    /// RFC 8259 number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func parseNumber(_ at: Int) throws(JSONError) -> Int {
        var j = at
        var flags = JSONNode.integer
        if p[j] == 0x2D { j &+= 1 }
        guard j < n else { throw invalid(j, "invalid number") }
        if p[j] == 0x30 {
            j &+= 1 // a leading zero stands alone: "01" fails as trailing data after "0"
        } else if p[j] &- 0x31 < 9 {
            j &+= 1
            while j < n, p[j] &- 0x30 < 10 { j &+= 1 }
        } else {
            throw invalid(j, "invalid number")
        }
        if j < n, p[j] == 0x2E {
            flags = 0
            j &+= 1
            guard j < n, p[j] &- 0x30 < 10 else { throw invalid(j, "invalid number: digit expected after '.'") }
            while j < n, p[j] &- 0x30 < 10 { j &+= 1 }
        }
        if j < n, p[j] | 0x20 == 0x65 {
            flags = 0
            j &+= 1
            if j < n, p[j] == 0x2B || p[j] == 0x2D { j &+= 1 }
            guard j < n, p[j] &- 0x30 < 10 else { throw invalid(j, "invalid number: digit expected in exponent") }
            while j < n, p[j] &- 0x30 < 10 { j &+= 1 }
        }
        try append(.number, at, j, flags)
        return j
    }
}

/// UTF-8 and hex helpers shared by validation and decoding.
enum JSONUTF8 {
    /// Length (2...4) of the well-formed UTF-8 sequence starting at `i` (whose first byte is
    /// >= 0x80), or 0 if it is not well formed (overlongs, surrogates, > U+10FFFF, truncation).
    @inline(__always)
    static func validSequenceLength(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int {
        let b0 = p[i]
        @inline(__always) func cont(_ k: Int) -> Bool { i &+ k < n && p[i &+ k] & 0xC0 == 0x80 }
        switch b0 {
        case 0xC2...0xDF:
            return cont(1) ? 2 : 0
        case 0xE0...0xEF:
            guard i &+ 2 < n else { return 0 }
            let b1 = p[i &+ 1]
            let ok1: Bool
            switch b0 {
            case 0xE0: ok1 = b1 >= 0xA0 && b1 <= 0xBF
            case 0xED: ok1 = b1 >= 0x80 && b1 <= 0x9F
            default: ok1 = b1 & 0xC0 == 0x80
            }
            return ok1 && cont(2) ? 3 : 0
        case 0xF0...0xF4:
            guard i &+ 3 < n else { return 0 }
            let b1 = p[i &+ 1]
            let ok1: Bool
            switch b0 {
            case 0xF0: ok1 = b1 >= 0x90 && b1 <= 0xBF
            case 0xF4: ok1 = b1 >= 0x80 && b1 <= 0x8F
            default: ok1 = b1 & 0xC0 == 0x80
            }
            return ok1 && cont(2) && cont(3) ? 4 : 0
        default:
            return 0
        }
    }

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: return UInt32(c &- 0x30)
        case 0x41...0x46: return UInt32(c &- 0x37)
        case 0x61...0x66: return UInt32(c &- 0x57)
        default: return nil
        }
    }

    /// The four hex digits at `i` as a UTF-16 code unit, or nil.
    @inline(__always)
    static func hex4(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> UInt32? {
        guard i &+ 4 <= n,
              let a = hexValue(p[i]), let b = hexValue(p[i &+ 1]),
              let c = hexValue(p[i &+ 2]), let d = hexValue(p[i &+ 3]) else { return nil }
        return a << 12 | b << 8 | c << 4 | d
    }
}
