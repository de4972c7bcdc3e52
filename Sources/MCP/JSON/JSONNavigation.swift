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
