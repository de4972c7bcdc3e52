// A parsed JSON payload: the bytes as sent plus a flat tape of nodes over them.

/// A validated JSON text and its tape (in the manner of simdjson): one node per value and per
/// object key, in document order. Each node records its kind, the byte range of the value as sent
/// and, for containers, its element count and the tape index just past its last descendant, so a
/// whole subtree is skipped in O(1). Strings are validated while parsing and decoded only when
/// asked for.
///
/// Choices beyond RFC 8259 (see also `JSONLimits.strictUnicode`):
/// - a leading UTF-8 byte order mark is skipped (RFC 8259 8.1 permits it);
/// - unpaired surrogate escapes and invalid UTF-8 inside strings are accepted by default and read
///   back as U+FFFD, and `hasUnicodeRepairs` is set;
/// - duplicate keys are kept: `member` returns the first, `lastMember` the last.
public struct JSONDocument: Sendable {
    /// The input, unchanged; every `range` indexes into it.
    public let bytes: [UInt8]
    @usableFromInline let nodes: [JSONNode]
    /// True when some string holds invalid UTF-8 or an unpaired surrogate escape (only possible
    /// when `strictUnicode` is off): a hint of evasion worth reporting.
    public let hasUnicodeRepairs: Bool

    init(bytes: [UInt8], nodes: [JSONNode], hasUnicodeRepairs: Bool) {
        self.bytes = bytes
        self.nodes = nodes
        self.hasUnicodeRepairs = hasUnicodeRepairs
    }

    /// Parses and validates `bytes` as one JSON text (whitespace around it allowed).
    public static func parse(_ bytes: [UInt8], limits: JSONLimits = .init()) throws(JSONError) -> JSONDocument {
        // Offsets are stored in 32 bits: inputs of 4 GiB or more are too large whatever the limit.
        if bytes.count > limits.maxBytes || bytes.count >= Int(UInt32.max) { throw .tooLarge }
        if bytes.isEmpty { throw .empty }
        let outcome: Result<JSONParser, JSONError> = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return .failure(.empty) }
            var parser = JSONParser(p: base, n: buffer.count, limits: limits)
            do throws(JSONError) {
                try parser.parse()
            } catch {
                return .failure(error)
            }
            return .success(parser)
        }
        switch outcome {
        case .success(let parser):
            return JSONDocument(bytes: bytes, nodes: parser.nodes, hasUnicodeRepairs: parser.hasUnicodeRepairs)
        case .failure(let error):
            throw error
        }
    }

    /// The top-level value.
    public var root: JSONRef { JSONRef(index: 0) }

    /// Number of tape nodes (values plus object keys).
    public var nodeCount: Int { nodes.count }

    @inline(__always)
    func node(_ r: JSONRef) -> JSONNode? {
        r.index >= 0 && r.index < nodes.count ? nodes[r.index] : nil
    }

    /// The kind of the value; `.null` for a handle that is not in this document.
    public func kind(_ r: JSONRef) -> JSONKind { node(r)?.kind ?? .null }

    /// Byte range of the value as sent (a string's includes its quotes); empty for a foreign handle.
    public func range(_ r: JSONRef) -> Range<Int> {
        guard let nd = node(r) else { return 0..<0 }
        return Int(nd.start)..<Int(nd.end)
    }

    /// The value's bytes exactly as sent.
    public func raw(_ r: JSONRef) -> ArraySlice<UInt8> { bytes[range(r)] }

    /// Elements of an array or members of an object; 0 for anything else.
    public func count(_ container: JSONRef) -> Int {
        guard let nd = node(container), nd.kind == .object || nd.kind == .array else { return 0 }
        return Int(nd.count)
    }

    /// Tape index just past the subtree of `r` (internal, for walks).
    @inline(__always)
    func next(_ index: Int) -> Int { Int(nodes[index].next) }

    /// Calls `body(key, value)` for each member of an object in order, until it returns false.
    /// `key` is the string node of the member's name. No allocation.
    public func forEachMember(_ obj: JSONRef, _ body: (_ key: JSONRef, _ value: JSONRef) -> Bool) {
        guard let nd = node(obj), nd.kind == .object else { return }
        var j = obj.index &+ 1
        let end = Int(nd.next)
        while j &+ 1 < end {
            if !body(JSONRef(index: j), JSONRef(index: j &+ 1)) { return }
            j = next(j &+ 1)
        }
    }

    /// Calls `body` for each element of an array in order, until it returns false. No allocation.
    public func forEachElement(_ arr: JSONRef, _ body: (JSONRef) -> Bool) {
        guard let nd = node(arr), nd.kind == .array else { return }
        var j = arr.index &+ 1
        let end = Int(nd.next)
        while j < end {
            if !body(JSONRef(index: j)) { return }
            j = next(j)
        }
    }

    /// The value of the first member named `key` (compared after unescaping, code point by code
    /// point, without Unicode normalisation); nil if absent or `obj` is not an object.
    public func member(_ obj: JSONRef, _ key: String) -> JSONRef? {
        var found: JSONRef?
        forEachMember(obj) { k, v in
            if keyEquals(k, key) { found = v; return false }
            return true
        }
        return found
    }

    /// `member` for a name written in the code, compared as `keyEquals(_:literal:)` does (no
    /// String on the way; the tracker looks up a dozen members a message).
    public func member(_ obj: JSONRef, literal key: StaticString) -> JSONRef? {
        var found: JSONRef?
        forEachMember(obj) { k, v in
            if keyEquals(k, literal: key) { found = v; return false }
            return true
        }
        return found
    }

    /// `path` for names written in the code (see `member(_:literal:)`).
    public func path(_ r: JSONRef, literal first: StaticString, _ second: StaticString) -> JSONRef? {
        member(r, literal: first).flatMap { member($0, literal: second) }
    }

    /// The value of the last member named `key`. Node's `JSON.parse` and Python's `json` keep the
    /// last of duplicate keys, so this is what most MCP servers act on.
    public func lastMember(_ obj: JSONRef, _ key: String) -> JSONRef? {
        var found: JSONRef?
        forEachMember(obj) { k, v in
            if keyEquals(k, key) { found = v }
            return true
        }
        return found
    }

    /// All members of an object in order, keys unescaped; empty if not an object.
    public func members(_ obj: JSONRef) -> [(key: String, value: JSONRef)] {
        var out: [(key: String, value: JSONRef)] = []
        out.reserveCapacity(count(obj))
        forEachMember(obj) { k, v in
            out.append((key: string(k) ?? "", value: v))
            return true
        }
        return out
    }

    /// All elements of an array in order; empty if not an array.
    public func elements(_ arr: JSONRef) -> [JSONRef] {
        var out: [JSONRef] = []
        out.reserveCapacity(count(arr))
        forEachElement(arr) { out.append($0); return true }
        return out
    }

    /// Follows a chain of member names from `r` (`path(root, "params", "name")`); nil if any
    /// link is missing.
    public func path(_ r: JSONRef, _ keys: String...) -> JSONRef? {
        path(r, keys: keys)
    }

    /// `path` with the keys as an array.
    public func path(_ r: JSONRef, keys: [String]) -> JSONRef? {
        var current = r
        for key in keys {
            guard let v = member(current, key) else { return nil }
            current = v
        }
        return current
    }

    /// True if `r` is a string written with at least one backslash escape (or with invalid
    /// Unicode): its raw bytes differ from its value.
    public func hasEscapes(_ r: JSONRef) -> Bool {
        guard let nd = node(r), nd.kind == .string else { return false }
        return nd.flags & (JSONNode.escaped | JSONNode.repaired) != 0
    }

    /// `keyEquals` for a name written in the code: a key sent without escapes is compared byte
    /// for byte with the literal's UTF-8, without a String on the way (about 70 instructions a
    /// comparison through the String's view, asked five times a message to classify it).
    public func keyEquals(_ r: JSONRef, literal key: StaticString) -> Bool {
        guard let nd = node(r), nd.kind == .string else { return false }
        guard nd.flags & (JSONNode.escaped | JSONNode.repaired) == 0 else { return keyEquals(r, key.description) }
        return rawEquals(nd, UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
    }

    /// True if the string node `r` unescapes to exactly the UTF-8 of `key`.
    public func keyEquals(_ r: JSONRef, _ key: String) -> Bool {
        guard let nd = node(r), nd.kind == .string else { return false }
        if nd.flags & (JSONNode.escaped | JSONNode.repaired) == 0 {
            // Fast path: the raw bytes are the key. Lengths first (O(1) for native strings).
            let utf8 = key.utf8
            guard utf8.count == Int(nd.end) &- Int(nd.start) &- 2 else { return false }
            return utf8.withContiguousStorageIfAvailable { rawEquals(nd, $0) }
                ?? utf8.elementsEqual(bytes[(Int(nd.start) &+ 1)..<(Int(nd.end) &- 1)])
        }
        return key.utf8.elementsEqual(decodedUTF8(nd))
    }

    /// Whether a string node without escapes is exactly `key`'s bytes between its quotes.
    private func rawEquals(_ nd: JSONNode, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let lo = Int(nd.start) &+ 1
        guard Int(nd.end) &- 1 &- lo == key.count else { return false }
        return bytes.withUnsafeBufferPointer { b in
            var i = 0
            while i < key.count {
                if b[lo &+ i] != key[i] { return false }
                i &+= 1
            }
            return true
        }
    }

    /// The unescaped string; nil if `r` is not a string.
    public func string(_ r: JSONRef) -> String? {
        guard let nd = node(r), nd.kind == .string else { return nil }
        let lo = Int(nd.start) &+ 1, hi = Int(nd.end) &- 1
        if nd.flags & JSONNode.escaped == 0 {
            // No escapes: the bytes are the text (String(decoding:) repairs any invalid UTF-8).
            return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[lo..<hi]), as: UTF8.self) }
        }
        let utf8 = decodedUTF8(nd)
        return String(decoding: utf8, as: UTF8.self)
    }

    /// True/false; nil if `r` is not a bool.
    public func bool(_ r: JSONRef) -> Bool? {
        guard let nd = node(r), nd.kind == .bool else { return nil }
        return nd.flags & JSONNode.isTrue != 0
    }

    /// True if `r` is `null` in this document.
    public func isNull(_ r: JSONRef) -> Bool {
        guard let nd = node(r) else { return false }
        return nd.kind == .null
    }

    /// The value of a number written as an integer (no fraction, no exponent) that fits in `Int`;
    /// nil otherwise (`1.0`, `1e3`, overflow, not a number). `-0` is 0.
    public func int(_ r: JSONRef) -> Int? {
        guard let nd = node(r), nd.kind == .number, nd.flags & JSONNode.integer != 0 else { return nil }
        var i = Int(nd.start)
        let end = Int(nd.end)
        let negative = bytes[i] == 0x2D
        if negative { i &+= 1 }
        var value = 0
        while i < end {
            let digit = Int(bytes[i] &- 0x30)
            // Accumulate negatively so Int.min is representable.
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(digit)
            if o1 || o2 { return nil }
            value = s
            i &+= 1
        }
        if negative { return value }
        let (v, o) = (0).subtractingReportingOverflow(value)
        return o ? nil : v
    }

    /// The number as a `Double` (nearest value; may be infinite for huge exponents); nil if not a number.
    public func double(_ r: JSONRef) -> Double? {
        guard let text = numberText(r) else { return nil }
        return Double(text)
    }

    /// The number exactly as sent (`1.50E+3` stays `1.50E+3`); nil if not a number.
    public func numberText(_ r: JSONRef) -> String? {
        guard let nd = node(r), nd.kind == .number else { return nil }
        return String(decoding: bytes[Int(nd.start)..<Int(nd.end)], as: UTF8.self)
    }

    /// The UTF-8 of a string node's value, escapes decoded, unpaired surrogates as U+FFFD.
    /// Invalid raw UTF-8 is copied through (callers building a String have it repaired).
    func decodedUTF8(_ nd: JSONNode) -> [UInt8] {
        let lo = Int(nd.start) &+ 1, hi = Int(nd.end) &- 1
        var out: [UInt8] = []
        out.reserveCapacity(hi &- lo)
        bytes.withUnsafeBufferPointer { buffer in
            guard let p = buffer.baseAddress else { return }
            JSONEscapes.unescape(p, from: lo, to: hi, into: &out)
        }
        return out
    }
}
