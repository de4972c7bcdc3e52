import SonarCore
import SonarMCP

/// The bounded tape JSON parser on a message as it arrives, then what the tracker and the
/// detectors do with a document: JSON-RPC classification, canonical JSON (tool hashes), compact
/// re-serialisation (`--payloads`), and reading every node.
///
/// Input: the message bytes. Limits are small so that the depth, element and string limits are
/// reached by inputs of a few KB.
///
/// Invariants: every node's byte range inside the input; compact and canonical output is JSON
/// the parser accepts again; canonical JSON is a fixed point (canonical of canonical is itself).
enum JSONFuzz {
    static let limits: JSONLimits = {
        var l = JSONLimits()
        l.maxDepth = 48
        l.maxBytes = 16 << 10
        l.maxElements = 4096
        l.maxStringBytes = 4096
        return l
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        let bytes = [UInt8](input)
        var counters = Counters()
        guard let result = JSONRPC.parse(bytes, limits: limits, counters: &counters) else { return }
        let document = result.document
        fuzzCheck(document.nodeCount <= limits.maxElements, "\(document.nodeCount) nodes")
        for message in result.messages {
            _ = document.range(message.node)
            if let p = message.params { _ = document.canonicalUTF8(p) }
            if let m = message.method { fuzzCheck(m.utf8.count <= limits.maxStringBytes * 3, "method of \(m.utf8.count) bytes") }
        }
        var visited = 0
        document.forEachNode(in: document.root) { r in
            let range = document.range(r)
            fuzzCheck(range.lowerBound >= 0 && range.upperBound <= bytes.count && range.lowerBound <= range.upperBound,
                      "node range \(range) outside \(bytes.count) bytes")
            switch document.kind(r) {
            case .string: _ = document.string(r)
            case .number: _ = (document.int(r), document.double(r), document.numberText(r))
            case .bool: _ = document.bool(r)
            case .null: _ = document.isNull(r)
            case .object, .array: _ = document.count(r)
            }
            if visited < 32 { _ = document.pointer(to: r) }
            visited += 1
            return true
        }
        let compact = document.compactUTF8(document.root)
        let canonical = document.canonicalUTF8(document.root)
        // Re-serialised output may be longer than the input (escapes), so it is checked without the size limit.
        var relaxed = limits
        relaxed.maxBytes = 8 * bytes.count + 64
        relaxed.maxStringBytes = 8 * limits.maxStringBytes
        let reparsedCompact: JSONDocument
        let reparsed: JSONDocument
        do throws(JSONError) {
            reparsedCompact = try JSONDocument.parse(compact, limits: relaxed)
            reparsed = try JSONDocument.parse(canonical, limits: relaxed)
        } catch {
            fuzzCheck(false, "re-serialised JSON refused: \(error)")
            return
        }
        fuzzCheck(reparsedCompact.nodeCount == document.nodeCount,
                  "compact JSON has \(reparsedCompact.nodeCount) nodes, the original \(document.nodeCount)")
        if !document.hasUnicodeRepairs {
            let again = reparsed.canonicalUTF8(reparsed.root)
            fuzzCheck(again == canonical, "canonical JSON is not a fixed point")
        }
    }
}
