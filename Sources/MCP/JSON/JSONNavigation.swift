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

    /// Calls `body` for every string below `r` (object keys included, `r` itself not) written
    /// with at least `minimumLength` bytes between its quotes, or with an escape or invalid
    /// Unicode (its bytes as sent say nothing of its text's length): the strings a scanner must
    /// read. The rest of the tape is passed over in one loop, without a call per node.
    public func forEachString(below r: JSONRef, atLeast minimumLength: Int, _ body: (JSONRef) -> Void) {
        guard let nd = node(r) else { return }
        let end = Int(nd.next)
        let special = JSONNode.escaped | JSONNode.repaired
        var j = r.index &+ 1
        while j < end {
            let n = nodes[j]
            if n.kind == .string && (Int(n.end) &- Int(n.start) &- 2 >= minimumLength || n.flags & special != 0) {
                body(JSONRef(index: j))
            }
            j &+= 1
        }
    }

    /// Calls `body` for every string value at or below `r` (member names are not values), in
    /// document order, passing over the whole value of each member whose name `skip` answers
    /// true for. One loop over the tape, without a call per node.
    public func forEachStringValue(in r: JSONRef, skippingMembers skip: (JSONRef) -> Bool, _ body: (JSONRef) -> Void) {
        guard let nd = node(r) else { return }
        if nd.kind == .string {
            if nd.flags & JSONNode.isKey == 0 { body(r) }
            return
        }
        let end = Int(nd.next)
        var j = r.index &+ 1
        while j < end {
            let n = nodes[j]
            if n.kind == .string {
                if n.flags & JSONNode.isKey == 0 {
                    body(JSONRef(index: j))
                } else if skip(JSONRef(index: j)) {
                    // The member's value, whatever it holds, is passed over whole.
                    j = next(j &+ 1)
                    continue
                }
            }
            j &+= 1
        }
    }

    /// For a node below `base`: the member of `base` (an object) whose name or value holds it,
    /// and the member name it sits under — its own member's for an object member's value, for
    /// an array's elements (at any depth of arrays) the name of the member holding the array;
    /// nil for a member name, or with no member between it and `base`. Both as the name's node.
    /// O(depth x siblings): asked for the few strings a scan finds something in, or whose name
    /// it needs and that are not a member's value.
    public func names(above target: JSONRef, from base: JSONRef) -> (top: JSONRef?, key: JSONRef?) {
        guard let baseNode = node(base), node(target) != nil,
              target.index > base.index, target.index < Int(baseNode.next) else { return (nil, nil) }
        var top: JSONRef?
        var key: JSONRef?
        var current = base.index
        while current != target.index {
            let nd = nodes[current]
            var j = current &+ 1
            var found = false
            if nd.kind == .object {
                while j &+ 1 < Int(nd.next) {
                    let valueEnd = next(j &+ 1)
                    if target.index >= j && target.index < valueEnd {
                        if current == base.index { top = JSONRef(index: j) }
                        if target.index == j { return (top, nil) }
                        key = JSONRef(index: j)
                        current = j &+ 1
                        found = true
                        break
                    }
                    j = valueEnd
                }
            } else if nd.kind == .array {
                while j < Int(nd.next) {
                    let elementEnd = next(j)
                    if target.index >= j && target.index < elementEnd {
                        current = j
                        found = true
                        break
                    }
                    j = elementEnd
                }
            }
            if !found { return (nil, nil) }
        }
        return (top, key)
    }

    /// The member name of an object member's value, read off the tape in O(1): a name's node is
    /// always followed by its value's. nil for anything else (array elements, names, the root).
    public func memberName(of value: JSONRef) -> JSONRef? {
        guard value.index > 0, let nd = node(JSONRef(index: value.index &- 1)),
              nd.kind == .string, nd.flags & JSONNode.isKey != 0 else { return nil }
        return JSONRef(index: value.index &- 1)
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
