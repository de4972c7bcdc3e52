// `--payloads`: the message as compact JSON with every detected secret masked.
import SonarMCP

/// Serialises messages for output with secrets replaced by their masked form.
public enum PayloadRedaction {
    /// Compact JSON of `ref` (as `JSONDocument.compactText`) in which every occurrence of any of
    /// `secrets` inside any string or key is replaced by `Redaction.mask(secret)`. Valid JSON on
    /// one line. Longer secrets are replaced first, so a secret inside a longer one (a token
    /// inside the base64 text that carried it) is covered by the longer mask.
    public static func compactText(_ doc: JSONDocument, _ ref: JSONRef, secrets: Set<String>) -> String {
        let needles = needles(secrets)
        var out: [UInt8] = []
        out.reserveCapacity(doc.range(ref).count)
        append(doc, ref, needles, &out)
        return String(decoding: out, as: UTF8.self)
    }

    typealias Needle = (bytes: [UInt8], mask: [UInt8])

    /// The replacements of `secrets`, longest first (`replace` takes the first that fits).
    static func needles(_ secrets: Set<String>) -> [Needle] {
        secrets.filter { !$0.isEmpty }
            .sorted { ($0.utf8.count, $0) > ($1.utf8.count, $1) }
            .map { (bytes: Array($0.utf8), mask: Array(Redaction.mask($0).utf8)) }
    }

    /// `text` with every occurrence of a needle masked (`replace`); `text` itself when none
    /// occurs. Byte comparisons, first byte first: linear in the text for each needle.
    static func masked(_ text: String, _ needles: [Needle]) -> String {
        guard !needles.isEmpty, !text.isEmpty else { return text }
        let bytes = Array(text.utf8)
        guard needles.contains(where: { contains(bytes[...], $0.bytes) }) else { return text }
        return String(decoding: replace(bytes, needles), as: UTF8.self)
    }

    /// Depth is bounded by the parser's limit.
    private static func append(_ doc: JSONDocument, _ r: JSONRef, _ needles: [Needle], _ out: inout [UInt8]) {
        switch doc.kind(r) {
        case .object:
            out.append(0x7B)
            var first = true
            doc.forEachMember(r) { k, v in
                if !first { out.append(0x2C) }
                first = false
                appendString(doc, k, needles, &out)
                out.append(0x3A)
                append(doc, v, needles, &out)
                return true
            }
            out.append(0x7D)
        case .array:
            out.append(0x5B)
            var first = true
            doc.forEachElement(r) { e in
                if !first { out.append(0x2C) }
                first = false
                append(doc, e, needles, &out)
                return true
            }
            out.append(0x5D)
        case .string:
            appendString(doc, r, needles, &out)
        case .number, .bool, .null:
            let raw = doc.raw(r)
            // A foreign handle reads as null, as in `compactText`.
            if raw.isEmpty { out.append(contentsOf: Array("null".utf8)) } else { out.append(contentsOf: raw) }
        }
    }

    private static func appendString(_ doc: JSONDocument, _ r: JSONRef, _ needles: [Needle], _ out: inout [UInt8]) {
        let raw = doc.raw(r)
        if !doc.hasEscapes(r), !needles.contains(where: { contains(raw, $0.bytes) }) {
            // As sent is already minimal when nothing was escaped and nothing is masked.
            out.append(contentsOf: raw)
            return
        }
        let text = Array((doc.string(r) ?? "").utf8)
        JSONEscapes.appendQuoted(replace(text, needles), &out)
    }

    static func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard let first = needle.first, hay.count >= needle.count else { return false }
        var i = hay.startIndex
        let last = hay.endIndex - needle.count
        while i <= last {
            if hay[i] == first, hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// Left to right; at each position the longest secret that starts there is masked.
    static func replace(_ text: [UInt8], _ needles: [Needle]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var i = 0
        outer: while i < text.count {
            for n in needles where n.bytes.count <= text.count - i && text[i] == n.bytes[0]
                && text[i..<(i + n.bytes.count)].elementsEqual(n.bytes) {
                out.append(contentsOf: n.mask)
                i += n.bytes.count
                continue outer
            }
            out.append(text[i])
            i += 1
        }
        return out
    }
}

/// The secrets of one message, ready to mask the texts copied from it (fields of its event,
/// evidence quoting it): built once, each occurrence masked as `PayloadRedaction.compactText`
/// masks it (longest first), by comparing bytes, not with Foundation's string search once per
/// secret and text.
public struct SecretMask: Sendable {
    let needles: [PayloadRedaction.Needle]

    /// The needles `SecretDetector.locateMasked` sorted already (with each secret's JSON-pointer spelling).
    init(needles: [PayloadRedaction.Needle]) { self.needles = needles }

    /// `text` with every secret in it masked.
    public func apply(_ text: String) -> String { PayloadRedaction.masked(text, needles) }
}
