// Lazy string decoding and minimal re-escaping, and the compact serialiser built on them.

public enum JSONEscapes {
    static let replacement: [UInt8] = [0xEF, 0xBF, 0xBD] // U+FFFD

    /// Decodes the (already validated) string content `p[from..<to]` into UTF-8 bytes.
    static func unescape(_ p: UnsafePointer<UInt8>, from: Int, to: Int, into out: inout [UInt8]) {
        var i = from
        while i < to {
            // Copy the run up to the next backslash in one go.
            var j = i
            while j < to, p[j] != 0x5C { j &+= 1 }
            if j > i { out.append(contentsOf: UnsafeBufferPointer(start: p + i, count: j &- i)) }
            guard j &+ 1 < to else { return }
            let e = p[j &+ 1]
            i = j &+ 2
            switch e {
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                guard let unit = JSONUTF8.hex4(p, j &+ 2, to) else { return }
                i = j &+ 6
                var scalar = unit
                if unit & 0xFC00 == 0xD800 {
                    if i &+ 6 <= to, p[i] == 0x5C, p[i &+ 1] == 0x75,
                       let low = JSONUTF8.hex4(p, i &+ 2, to), low & 0xFC00 == 0xDC00 {
                        scalar = 0x10000 &+ ((unit &- 0xD800) << 10) &+ (low &- 0xDC00)
                        i &+= 6
                    } else {
                        out.append(contentsOf: replacement)
                        continue
                    }
                } else if unit & 0xFC00 == 0xDC00 {
                    out.append(contentsOf: replacement)
                    continue
                }
                appendUTF8(scalar, &out)
            default: out.append(e) // " \ /
            }
        }
    }

    @inline(__always)
    static func appendUTF8(_ v: UInt32, _ out: inout [UInt8]) {
        switch v {
        case 0..<0x80:
            out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `text` (valid UTF-8) as a JSON string literal: only `"`, `\` and control
    /// characters are escaped, with the short forms where JSON has them.
    public static func appendQuoted<S: Sequence>(_ text: S, _ out: inout [UInt8]) where S.Element == UInt8 {
        out.append(0x22)
        for c in text {
            switch c {
            case 0x22: out.append(0x5C); out.append(0x22)
            case 0x5C: out.append(0x5C); out.append(0x5C)
            case 0x08: out.append(0x5C); out.append(0x62)
            case 0x0C: out.append(0x5C); out.append(0x66)
            case 0x0A: out.append(0x5C); out.append(0x6E)
            case 0x0D: out.append(0x5C); out.append(0x72)
            case 0x09: out.append(0x5C); out.append(0x74)
            case 0..<0x20:
                out.append(contentsOf: [0x5C, 0x75, 0x30, 0x30])
                out.append(hexDigits[Int(c >> 4)])
                out.append(hexDigits[Int(c & 0xF)])
            default: out.append(c)
            }
        }
        out.append(0x22)
    }
}

extension JSONDocument {
    /// Compact re-serialisation of the value at `r`: no insignificant whitespace, strings
    /// re-escaped minimally (only `"`, `\` and control characters; U+FFFD where the input had
    /// invalid Unicode), numbers exactly as sent. Always valid JSON on one line. Iterative, so
    /// depth costs no stack.
    public func compactText(_ r: JSONRef) -> String {
        String(decoding: compactUTF8(r), as: UTF8.self)
    }

    /// `compactText` as UTF-8 bytes.
    public func compactUTF8(_ r: JSONRef) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(range(r).count)
        appendCompact(r, to: &out)
        return out
    }

    /// `compactUTF8` appended to `out` (the canonical form writes its keys and leaves this way,
    /// with no array of their own each).
    func appendCompact(_ r: JSONRef, to out: inout [UInt8]) {
        guard r.index >= 0, r.index < nodes.count else { out.append(contentsOf: "null".utf8); return }
        // Open containers: where they end on the tape, whether an object, children written.
        var open: [(end: Int, isObject: Bool, written: Int)] = []
        let last = Int(nodes[r.index].next)
        var j = r.index
        while j < last {
            let nd = nodes[j]
            if var top = open.last {
                // Separator before this node, decided by its position among its siblings.
                if top.isObject {
                    if top.written & 1 == 1 { out.append(0x3A) } else if top.written > 0 { out.append(0x2C) }
                } else if top.written > 0 {
                    out.append(0x2C)
                }
                top.written &+= 1
                open[open.count &- 1] = top
            }
            switch nd.kind {
            case .object, .array:
                out.append(nd.kind == .object ? 0x7B : 0x5B)
                open.append((end: Int(nd.next), isObject: nd.kind == .object, written: 0))
            case .string:
                if nd.flags & (JSONNode.escaped | JSONNode.repaired) == 0 {
                    // Nothing to escape and nothing escaped: the bytes as sent are already minimal.
                    out.append(contentsOf: bytes[Int(nd.start)..<Int(nd.end)])
                } else if nd.flags & JSONNode.repaired == 0 {
                    JSONEscapes.appendQuoted(decodedUTF8(nd), &out)
                } else {
                    // Repair invalid UTF-8 first so the output is valid UTF-8.
                    let text = String(decoding: decodedUTF8(nd), as: UTF8.self)
                    JSONEscapes.appendQuoted(text.utf8, &out)
                }
            case .number, .bool, .null:
                out.append(contentsOf: bytes[Int(nd.start)..<Int(nd.end)])
            }
            j &+= 1
            // Close every container whose subtree ends here.
            while let top = open.last, top.end <= j {
                out.append(top.isObject ? 0x7D : 0x5D)
                open.removeLast()
            }
        }
    }
}
