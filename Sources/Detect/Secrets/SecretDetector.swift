// Secrets in MCP messages: every string value and object key of a message, and the HTTP request
// headers that carried it, become findings with masked evidence.
import SonarMCP
import SonarProtocols

/// Walks one message (every string value AND object key, at any depth: params, result, error)
/// and the given HTTP request headers, reporting one `Finding` per distinct (pattern, value,
/// path) with evidence (mask, SHA-256 of the exact secret, JSON pointer or `header:<name>`).
public struct SecretDetector: Sendable {
    public let scanner: SecretScanner

    public init(scanner: SecretScanner) { self.scanner = scanner }

    /// Where the secrets of a message and its headers are: what `inspect` reports from. It
    /// depends on nothing but the message, the headers and the patterns, so worker threads find
    /// it ahead of the session stage.
    public func locate(_ view: MCPMessageView, headers: HTTPHeaders?) -> SecretLocations {
        let (hits, needles) = locateMasked(view, headers: headers)
        return SecretLocations(hits: hits, needles: needles)
    }

    /// One secret at one place.
    struct Located: Hashable {
        var match: SecretMatch
        /// JSON pointer from the message, or `header:<lowercased name>`.
        var path: String
        /// Where it was, for the signature: "params", "result", "error", "id", "header Authorization".
        var place: String
    }

    /// Reports findings for `view` and `headers`. The signature reads like "GitHub personal access
    /// token in tools/call result"; the method of a response is not in the message, so
    /// `requestMethod` lets the caller name it.
    public func inspect(_ view: MCPMessageView, headers: HTTPHeaders?, report: (Finding) -> Void) {
        inspect(view, headers: headers, requestMethod: nil, report: report)
    }

    /// `inspect` with the method of the request a response answers, for the signature. Returns
    /// what `secrets(in:headers:)` would, so a caller that also redacts scans the message once.
    @discardableResult
    public func inspect(_ view: MCPMessageView, headers: HTTPHeaders?, requestMethod: String?,
                        located: SecretLocations? = nil, report: (Finding) -> Void) -> Set<String> {
        let method = view.message.method ?? requestMethod
        let (hits, needles) = located.map { ($0.hits, $0.needles) } ?? locateMasked(view, headers: headers)
        var secrets: Set<String> = []
        for hit in hits {
            secrets.insert(hit.match.value)
            if let encoded = hit.match.encodedText { secrets.insert(encoded) }
            guard let pattern = scanner.pattern(hit.match.pattern) else { continue }
            var signature = pattern.name + " in "
            if hit.path.hasPrefix("header:") {
                signature += hit.place
            } else if let method {
                signature += method + " " + hit.place
            } else {
                signature += hit.place
            }
            switch hit.match.encoding {
            case "base64": signature += " (base64-encoded)"
            case "url": signature += " (URL-encoded)"
            default: break
            }
            // A method name (or header name) may itself be a secret the message carried.
            let bytes = Array(signature.utf8)
            if needles.contains(where: { PayloadRedaction.contains(bytes[...], $0.bytes) }) {
                signature = String(decoding: PayloadRedaction.replace(bytes, needles), as: UTF8.self)
            }
            report(Finding(rule: "secret." + pattern.id, signatureId: pattern.signatureId, signature: signature,
                           category: .secret, severity: pattern.severity,
                           evidence: Redaction.evidence(secret: hit.match.value, path: hit.path)))
        }
        return secrets
    }

    /// Every secret value found in the message and headers (for redaction), with the encoded text
    /// that carried any secret found only after decoding.
    public func secrets(in view: MCPMessageView, headers: HTTPHeaders?) -> Set<String> {
        var out: Set<String> = []
        for hit in locateMasked(view, headers: headers).hits {
            out.insert(hit.match.value)
            if let encoded = hit.match.encodedText { out.insert(encoded) }
        }
        return out
    }

    /// All distinct (pattern, value, path) in document order, headers last, with every secret
    /// masked in the paths; and the replacements that mask them.
    func locateMasked(_ view: MCPMessageView, headers: HTTPHeaders?) -> (hits: [Located], needles: [PayloadRedaction.Needle]) {
        var seen: Set<[String]> = []
        var out: [Located] = []
        func add(_ m: SecretMatch, _ path: String, _ place: String) {
            // One finding per (pattern, value, path): the same secret twice in one string is one.
            if seen.insert([m.pattern, m.value, path]).inserted {
                out.append(Located(match: m, path: path, place: place))
            }
        }
        let doc = view.document
        let message = view.message.node
        // Top-level member name → place for the signature.
        doc.forEachMember(message) { key, value in
            // Only the members JSON-RPC defines name a place: any other name could be a secret.
            let name = doc.string(key) ?? ""
            let place = ["params", "result", "error", "id", "method", "jsonrpc"].contains(name) ? name : "message"
            // The member name itself, then its value, as below.
            scanString(doc, key, key: nil, message: message, place: place, add)
            walk(doc, value, key: key, message: message, place: place, add)
            return true
        }
        if let headers {
            for (name, value) in headers.entries {
                let keyed = scanner.hasContext(forKey: name) ? scanner.scan(value: value, key: name) : []
                let found = scanner.merge(text: scanner.scan(value), keyed: keyed)
                guard !found.isEmpty else { continue }
                // Named only when something was found: most headers carry nothing.
                let path = "header:" + name.lowercased()
                let place = "HTTP header " + name
                for m in found { add(m, path, place) }
            }
        }
        // A secret used as an object key would otherwise sit unmasked in the pointers.
        var secrets: Set<String> = []
        for l in out {
            secrets.insert(l.match.value)
            if let e = l.match.encodedText { secrets.insert(e) }
        }
        // Pointer tokens escape `~` and `/` (RFC 6901): mask the escaped spelling too.
        var needles: [PayloadRedaction.Needle] = []
        for secret in secrets.sorted(by: { ($0.utf8.count, $0) > ($1.utf8.count, $1) }) {
            let mask = Array(Redaction.mask(secret).utf8)
            needles.append((bytes: Array(secret.utf8), mask: mask))
            if secret.utf8.contains(where: { $0 == 0x2F || $0 == 0x7E }) {
                var escaped: [UInt8] = []
                for b in secret.utf8 {
                    switch b {
                    case 0x7E: escaped += [0x7E, 0x30]
                    case 0x2F: escaped += [0x7E, 0x31]
                    default: escaped.append(b)
                    }
                }
                needles.append((bytes: escaped, mask: mask))
            }
        }
        needles.sort { $0.bytes.count > $1.bytes.count }
        for i in out.indices where !out[i].path.hasPrefix("header:") {
            let path = Array(out[i].path.utf8)
            if needles.contains(where: { PayloadRedaction.contains(path[...], $0.bytes) }) {
                out[i].path = String(decoding: PayloadRedaction.replace(path, needles), as: UTF8.self)
            }
        }
        return (out, needles)
    }

    /// Depth is bounded by the JSON parser's limit, so recursion is safe here.
    /// `key`: the member name the value sits under (the nearest one for array elements), as a
    /// node: it becomes a String only when a context pattern applies to it.
    private func walk(_ doc: JSONDocument, _ node: JSONRef, key: JSONRef?, message: JSONRef, place: String,
                      _ add: (SecretMatch, String, String) -> Void) {
        switch doc.kind(node) {
        case .string:
            scanString(doc, node, key: key, message: message, place: place, add)
        case .object:
            doc.forEachMember(node) { k, v in
                scanString(doc, k, key: nil, message: message, place: place, add)
                walk(doc, v, key: k, message: message, place: place, add)
                return true
            }
        case .array:
            doc.forEachElement(node) { e in
                walk(doc, e, key: key, message: message, place: place, add)
                return true
            }
        case .number, .bool, .null:
            break
        }
    }

    private func scanString(_ doc: JSONDocument, _ node: JSONRef, key keyNode: JSONRef?, message: JSONRef, place: String,
                            _ add: (SecretMatch, String, String) -> Void) {
        // Escape-free strings are scanned in place; escaped ones are decoded first so that
        // `\u0067hp_…` cannot hide a token.
        var matches: [SecretMatch]
        var key: String? = nil
        var keyed = false
        if let k = keyNode {
            if doc.hasEscapes(k) {
                key = doc.string(k)
                keyed = key.map { scanner.hasContext(forKey: $0) } ?? false
            } else {
                // The name's bytes as sent are its text: no String unless a pattern wants it.
                let raw = doc.raw(k)
                keyed = raw.count >= 2 && raw.withUnsafeBufferPointer {
                    scanner.hasContext(forKeyBytes: UnsafeBufferPointer(rebasing: $0[1..<($0.count - 1)]))
                }
                if keyed { key = doc.string(k) }
            }
        }
        if doc.hasEscapes(node) {
            guard let text = doc.string(node) else { return }
            matches = scanner.scan(text)
            if keyed, let key { matches = scanner.merge(text: matches, keyed: scanner.scan(value: text, key: key)) }
        } else {
            let raw = doc.raw(node)
            guard raw.count >= 2 else { return }
            matches = raw.withUnsafeBufferPointer { buffer in
                scanner.scan(utf8: UnsafeBufferPointer(rebasing: buffer[1..<(buffer.count - 1)]))
            }
            if keyed, let key, let text = doc.string(node) {
                matches = scanner.merge(text: matches, keyed: scanner.scan(value: text, key: key))
            }
        }
        guard !matches.isEmpty else { return }
        let path = doc.pointer(to: node, from: message) ?? ""
        for m in matches { add(m, path, place) }
    }
}

/// The secrets of one message and its headers, masked in their paths (`SecretDetector.locate`).
public struct SecretLocations: Sendable {
    let hits: [SecretDetector.Located]
    let needles: [PayloadRedaction.Needle]
}
