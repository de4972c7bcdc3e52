// Walking a document without recursion or allocation, and naming places in it (RFC 6901).

extension JSONDocument {
    /// True if `r` is the name of an object member rather than a value.
    public func isKey(_ r: JSONRef) -> Bool {
        guard let nd = node(r) else { return false }
        return nd.kind == .string && nd.flags & JSONNode.isKey != 0
    }

    /// Calls `body` for `r` and every node below it in document order (object keys included;
    /// tell them apart with `isKey`), until it returns false. A flat loop over the tape: this is
    /// how detectors scan every string of a message at any depth.
    public func forEachNode(in r: JSONRef, _ body: (JSONRef) -> Bool) {
        guard let nd = node(r) else { return }
        var j = r.index
        let end = Int(nd.next)
        while j < end {
            if !body(JSONRef(index: j)) { return }
            j &+= 1
        }
    }

    /// Calls `body(string, name, top)` for every string at or below `r`, member names included, written
    /// with at least `minimumLength` bytes between its quotes, or with an escape or invalid
    /// Unicode (its bytes as sent say nothing of its text's length): the strings a scanner must
    /// read, in document order, in one loop over the tape (no call per node, no recursion).
    /// `name` is the member name the string sits under: its own member's for a member's value;
    /// for an array's elements (through arrays in arrays) the name of the member holding the
    /// array; nil for a member name, and with no member between `r` and the string. `top` is the
    /// member name of `r` (an object) whose member holds the string. Both are read off the tape
    /// as the loop goes (a value's name is the node before it; the open arrays' names are kept
    /// on a stack), so a message of a million strings costs a million steps, not a walk from
    /// the root for each.
    public func forEachString(in r: JSONRef, atLeast minimumLength: Int,
                              _ body: (_ string: JSONRef, _ name: JSONRef?, _ top: JSONRef?) -> Void) {
        strings(in: r, atLeast: minimumLength, includingNames: true, skipping: [], body)
    }

    /// Calls `body(string, name)` for every string value at or below `r` (member names are not
    /// values), as `forEachString(in:atLeast:_:)` does, passing over the whole value of each
    /// member named one of `skipping` (names written in the code, compared as
    /// `keyEquals(_:literal:)` does).
    public func forEachStringValue(in r: JSONRef, skippingMembers skipping: [StaticString],
                                   _ body: (_ string: JSONRef, _ name: JSONRef?) -> Void) {
        strings(in: r, atLeast: 0, includingNames: false, skipping: skipping) { s, name, _ in body(s, name) }
    }

    /// The loop of both, inlined into each so that what they fix is decided at compile time.
    @inline(__always)
    private func strings(in r: JSONRef, atLeast minimumLength: Int, includingNames: Bool, skipping: [StaticString],
                         _ body: (_ string: JSONRef, _ name: JSONRef?, _ top: JSONRef?) -> Void) {
        guard let nd = node(r) else { return }
        let special = JSONNode.escaped | JSONNode.repaired
        if nd.kind == .string {
            // `r` itself, a string value: read as any string below it would be.
            if nd.flags & JSONNode.isKey == 0 && (Int(nd.end) &- Int(nd.start) &- 2 >= minimumLength || nd.flags & special != 0) {
                body(r, nil, nil)
            }
            return
        }
        let end = Int(nd.next)
        let first = r.index &+ 1
        var arrays = OpenArrays()
        var top = -1
        var nextTop = nd.kind == .object ? first : -1
        var j = first
        while j < end {
            let n = nodes[j]
            if n.kind == .string {
                let isKey = n.flags & JSONNode.isKey != 0
                if isKey {
                    // A member name of `r` itself: the strings up to the next one are under it.
                    if j == nextTop {
                        top = j
                        nextTop = next(j &+ 1)
                    }
                    if !skipping.isEmpty, skipping.contains(where: { keyEquals(JSONRef(index: j), literal: $0) }) {
                        // The member's value, whatever it holds, is passed over whole.
                        j = next(j &+ 1)
                        continue
                    }
                }
                if (includingNames || !isKey) && (Int(n.end) &- Int(n.start) &- 2 >= minimumLength || n.flags & special != 0) {
                    var name = -1
                    if !isKey {
                        // A member's value follows its name on the tape; an array's element
                        // takes the name the innermost open array gives its elements.
                        if j > first, nodes[j &- 1].flags & JSONNode.isKey != 0, nodes[j &- 1].kind == .string {
                            name = j &- 1
                        } else {
                            arrays.close(before: j)
                            name = arrays.innermostName
                        }
                    }
                    body(JSONRef(index: j), name >= 0 ? JSONRef(index: name) : nil, top >= 0 ? JSONRef(index: top) : nil)
                }
            } else if n.kind == .array {
                arrays.close(before: j)
                let name = j > first && nodes[j &- 1].flags & JSONNode.isKey != 0 && nodes[j &- 1].kind == .string
                    ? j &- 1 : arrays.innermostName
                arrays.open(end: Int(n.next), name: name)
            }
            j &+= 1
        }
    }

    /// The RFC 6901 JSON pointer from `base` (default: the root) to `target`, such as
    /// `/params/arguments/query` or `/result/tools/0/description`; nil if `target` is not inside
    /// `base`. For a member name, the pointer of its member. Costs O(depth x siblings), nothing
    /// until asked: evidence paths are only built for values that matched.
    public func pointer(to target: JSONRef, from base: JSONRef? = nil) -> String? {
        let start = base ?? root
        guard let startNode = node(start), node(target) != nil,
              target.index >= start.index, target.index < Int(startNode.next) else { return nil }
        var out = ""
        var current = start.index
        while current != target.index {
            let nd = nodes[current]
            var j = current &+ 1
            var position = 0
            var found = false
            if nd.kind == .object {
                while j &+ 1 < Int(nd.next) {
                    let valueEnd = next(j &+ 1)
                    if target.index >= j && target.index < valueEnd {
                        out += "/" + Self.escapePointerToken(string(JSONRef(index: j)) ?? "")
                        // A key node stands for its member.
                        current = target.index == j ? target.index : j &+ 1
                        found = true
                        break
                    }
                    j = valueEnd
                }
            } else if nd.kind == .array {
                while j < Int(nd.next) {
                    let elementEnd = next(j)
                    if target.index >= j && target.index < elementEnd {
                        out += "/" + String(position)
                        current = j
                        found = true
                        break
                    }
                    j = elementEnd
                    position &+= 1
                }
            }
            if !found { return nil }
        }
        return out
    }

    /// RFC 6901: `~` becomes `~0` and `/` becomes `~1`.
    static func escapePointerToken(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == 0x7E || $0 == 0x2F }) else { return token }
        var out = ""
        for ch in token.unicodeScalars {
            switch ch {
            case "~": out += "~0"
            case "/": out += "~1"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

/// The arrays open around a node of a loop over the tape, innermost last: where each ends and
/// the name (a node index, -1 for none) its elements take, packed in one word (tape indices fit
/// in 32 bits). Eight are kept inline, so a loop over a message costs no allocation; deeper
/// nesting spills to the heap. Closed lazily: an array ended before `j` is dropped when the
/// stack is next read (`close(before:)`).
struct OpenArrays {
    private var inlineEntries = InlineArray<8, UInt64>(repeating: 0)
    private var inline = 0
    private var spill: [UInt64]?

    private static func end(_ e: UInt64) -> Int { Int(e >> 32) }
    private static func name(_ e: UInt64) -> Int { Int(Int32(bitPattern: UInt32(truncatingIfNeeded: e))) }

    /// Drops the arrays that end at or before `j` (inner arrays end no later than outer ones).
    mutating func close(before j: Int) {
        if spill != nil {
            while let last = spill?.last, j >= Self.end(last) { spill?.removeLast() }
            if spill?.isEmpty == false { return }
            spill = nil
        }
        while inline > 0, j >= Self.end(inlineEntries[inline &- 1]) { inline &-= 1 }
    }

    /// The name the innermost open array's elements take (-1: none, or no array open).
    var innermostName: Int {
        if let last = spill?.last { return Self.name(last) }
        return inline > 0 ? Self.name(inlineEntries[inline &- 1]) : -1
    }

    mutating func open(end: Int, name: Int) {
        let entry = UInt64(UInt32(truncatingIfNeeded: end)) << 32 | UInt64(UInt32(bitPattern: Int32(truncatingIfNeeded: name)))
        if inline < 8 && spill == nil {
            inlineEntries[inline] = entry
            inline &+= 1
        } else {
            if spill == nil { spill = [] }
            spill?.append(entry)
        }
    }
}
