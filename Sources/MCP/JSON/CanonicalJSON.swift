extension JSONDocument {
    /// Canonical compact JSON of a value: object members sorted by key, no insignificant whitespace,
    /// strings minimally escaped, numbers as sent. Two definitions that differ only in member order
    /// or spacing give the same bytes, so their hashes compare definitions, not formatting.
    /// Recursion is bounded by the parser's depth limit.
    public func canonicalUTF8(_ r: JSONRef) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range(r).count)
        appendCanonical(r, &out)
        return out
    }

    private func appendCanonical(_ r: JSONRef, _ out: inout [UInt8]) {
        switch kind(r) {
        case .object:
            var members: [(key: String, keyRef: JSONRef, value: JSONRef)] = []
            forEachMember(r) { k, v in
                members.append((string(k) ?? "", k, v))
                return true
            }
            members.sort { $0.key < $1.key }
            out.append(UInt8(ascii: "{"))
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                appendCompact(m.keyRef, to: &out)
                out.append(UInt8(ascii: ":"))
                appendCanonical(m.value, &out)
            }
            out.append(UInt8(ascii: "}"))
        case .array:
            out.append(UInt8(ascii: "["))
            var first = true
            forEachElement(r) { e in
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                appendCanonical(e, &out)
                return true
            }
            out.append(UInt8(ascii: "]"))
        case .string, .number, .bool, .null:
            appendCompact(r, to: &out)
        }
    }
}
