// Loading `rules/secrets.yml`: YAML through Yams' node tree so that every refusal names the line
// and column of the offending node, then strict validation (unknown keys are typos, not options).
import Yams
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension SecretScanner {
    /// Reads and compiles a secrets file; refuses it with its path, line, column and reason.
    public static func load(path: String) throws(SecretConfigError) -> SecretScanner {
        try load(yaml: readText(path, file: path), file: path)
    }

    /// Compiles secrets configuration text; `file` only names it in errors.
    public static func load(yaml: String, file: String) throws(SecretConfigError) -> SecretScanner {
        let root = try ConfigYAML(file: file).compose(yaml)
        var loader = ConfigLoader(file: file)
        let patterns = try loader.patterns(root)
        return SecretScanner(patterns: patterns)
    }
}


private struct ConfigLoader {
    let file: String
    var seenIds: Set<String> = []
    var seenSignatures: Set<Int> = []

    static let knownKeys: Set<String> = [
        "id", "name", "signature_id", "severity", "kind", "prefixes", "case_insensitive", "include_prefix",
        "context_keys", "exclude_keys", "charset", "extra_chars", "min_length", "max_length", "length",
        "parts", "checksum", "structure", "min_entropy", "allow", "generic", "notes",
    ]

    init(file: String) { self.file = file }

    func fail(_ node: Node?, _ reason: String) -> SecretConfigError {
        let mark = node?.mark
        return SecretConfigError(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1, reason: reason)
    }

    mutating func patterns(_ root: Node?) throws(SecretConfigError) -> [SecretPattern] {
        guard let root, let top = root.mapping else { throw fail(root, "expected a mapping with a 'patterns' list") }
        var list: Node?
        for (k, v) in top {
            switch k.scalar?.string {
            case "patterns": list = v
            case "version":
                guard v.scalar?.string == "1" else { throw fail(v, "unsupported version (expected 1)") }
            default: throw fail(k, "unknown key '\(k.scalar?.string ?? "?")'")
            }
        }
        guard let list, let items = list.sequence else { throw fail(list ?? root, "'patterns' must be a list") }
        var out: [SecretPattern] = []
        for item in items { out.append(try pattern(item)) }
        if out.isEmpty { throw fail(list, "'patterns' is empty") }
        return out
    }

    mutating func pattern(_ node: Node) throws(SecretConfigError) -> SecretPattern {
        guard let map = node.mapping else { throw fail(node, "a pattern must be a mapping") }
        var fields: [String: Node] = [:]
        for (k, v) in map {
            guard let key = k.scalar?.string else { throw fail(k, "keys must be strings") }
            guard Self.knownKeys.contains(key) else { throw fail(k, "unknown key '\(key)'") }
            fields[key] = v
        }
        let id = try requiredString(fields, "id", in: node)
        guard !id.isEmpty, id.utf8.allSatisfy({ ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }) else {
            throw fail(fields["id"], "id '\(id)' must be lowercase letters, digits and '-'")
        }
        guard seenIds.insert(id).inserted else { throw fail(fields["id"], "duplicate id '\(id)'") }
        let name = try requiredString(fields, "name", in: node)
        let signatureId = try requiredInt(fields, "signature_id", in: node)
        guard signatureId >= 100001, signatureId <= 199999 else {
            throw fail(fields["signature_id"], "signature_id must be within 100001...199999")
        }
        guard seenSignatures.insert(signatureId).inserted else {
            throw fail(fields["signature_id"], "duplicate signature_id \(signatureId)")
        }
        let severity = try requiredInt(fields, "severity", in: node)
        guard (1...3).contains(severity) else { throw fail(fields["severity"], "severity must be 1, 2 or 3") }

        let contextKeys = try stringList(fields["context_keys"]).map { $0.lowercased() }
        let excludeKeys = try stringList(fields["exclude_keys"]).map { $0.lowercased() }
        let prefixes = try stringList(fields["prefixes"])
        var kind: SecretPattern.Kind = contextKeys.isEmpty ? .token : .context
        if let k = fields["kind"] {
            guard let s = k.scalar?.string, let parsed = SecretPattern.Kind(rawValue: s) else {
                throw fail(k, "kind must be 'token' or 'context'")
            }
            kind = parsed
        }
        switch kind {
        case .token:
            guard !prefixes.isEmpty else { throw fail(fields["prefixes"] ?? node, "a token pattern needs at least one prefix") }
            if !contextKeys.isEmpty { throw fail(fields["context_keys"], "context_keys belong to context patterns") }
        case .context:
            guard !contextKeys.isEmpty else { throw fail(fields["context_keys"] ?? node, "a context pattern needs context_keys") }
            if !prefixes.isEmpty { throw fail(fields["prefixes"], "a context pattern has context_keys, not prefixes") }
        }
        for (i, p) in (prefixes + contextKeys).enumerated() {
            let where_ = i < prefixes.count ? fields["prefixes"] : fields["context_keys"]
            guard p.utf8.count >= 2, p.utf8.count <= 64, p.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw fail(where_, "'\(p)' must be 2 to 64 printable ASCII characters")
            }
        }

        guard let charsetNode = fields["charset"] else { throw fail(node, "missing 'charset'") }
        guard let charsetName = charsetNode.scalar?.string, let charset = SecretCharset(rawValue: charsetName) else {
            let names = SecretCharset.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail(charsetNode, "unknown charset '\(charsetNode.scalar?.string ?? "?")' (one of: \(names))")
        }
        let extra = try optionalString(fields["extra_chars"]) ?? ""
        guard extra.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw fail(fields["extra_chars"], "extra_chars must be printable ASCII without spaces")
        }

        var minLength: Int, maxLength: Int
        if let exact = fields["length"] {
            guard fields["min_length"] == nil, fields["max_length"] == nil else {
                throw fail(exact, "give either length or min_length/max_length")
            }
            minLength = try int(exact); maxLength = minLength
        } else {
            guard let lo = fields["min_length"] else { throw fail(node, "missing 'min_length' (or 'length')") }
            guard let hi = fields["max_length"] else { throw fail(node, "missing 'max_length' (or 'length')") }
            minLength = try int(lo); maxLength = try int(hi)
        }
        guard minLength >= 1, minLength <= maxLength, maxLength <= 65536 else {
            throw fail(fields["length"] ?? fields["min_length"], "lengths must satisfy 1 <= min_length <= max_length <= 65536")
        }

        var separator: String?
        var parts: [ClosedRange<Int>] = []
        if let partsNode = fields["parts"] {
            guard let pm = partsNode.mapping else { throw fail(partsNode, "parts must be a mapping with separator and lengths") }
            for (k, v) in pm {
                switch k.scalar?.string {
                case "separator":
                    guard let s = v.scalar?.string, s.utf8.count == 1 else { throw fail(v, "separator must be one character") }
                    separator = s
                case "lengths":
                    guard let seq = v.sequence, seq.count >= 2 else { throw fail(v, "lengths must list at least two parts") }
                    for item in seq { parts.append(try lengthRange(item)) }
                default: throw fail(k, "unknown key '\(k.scalar?.string ?? "?")' in parts")
                }
            }
            guard separator != nil, !parts.isEmpty else { throw fail(partsNode, "parts needs separator and lengths") }
        }

        var checksum: SecretChecksum?
        if let c = fields["checksum"] {
            guard let s = c.scalar?.string, let v = SecretChecksum(rawValue: s) else { throw fail(c, "unknown checksum (known: github-crc32)") }
            checksum = v
        }
        var structure: SecretStructure?
        if let c = fields["structure"] {
            guard let s = c.scalar?.string, let v = SecretStructure(rawValue: s) else {
                throw fail(c, "unknown structure (known: jwt, pem-private-key, slack-token, slack-webhook, basic-auth)")
            }
            structure = v
        }
        var minEntropy = 0.0
        if let e = fields["min_entropy"] {
            guard let s = e.scalar?.string, let v = Double(s), v >= 0, v <= 8 else { throw fail(e, "min_entropy must be a number within 0...8") }
            minEntropy = v
        }
        if kind == .context && minEntropy == 0 && structure == nil && parts.isEmpty {
            throw fail(fields["context_keys"], "a context pattern needs min_entropy or parts (a key alone proves nothing)")
        }
        return SecretPattern(
            id: id, name: name, signatureId: signatureId, severity: severity, kind: kind,
            prefixes: prefixes, caseInsensitive: try bool(fields["case_insensitive"]) ?? false,
            includePrefix: try bool(fields["include_prefix"]) ?? true,
            contextKeys: contextKeys, excludeKeys: excludeKeys, charset: charset, extraChars: extra,
            minLength: minLength, maxLength: maxLength, partSeparator: separator, parts: parts,
            checksum: checksum, structure: structure, minEntropy: minEntropy,
            allow: try stringList(fields["allow"]), generic: try bool(fields["generic"]) ?? false)
    }

    func requiredString(_ f: [String: Node], _ key: String, in node: Node) throws(SecretConfigError) -> String {
        guard let v = f[key] else { throw fail(node, "missing '\(key)'") }
        guard let s = v.scalar?.string, !s.isEmpty else { throw fail(v, "'\(key)' must be a non-empty string") }
        return s
    }

    func requiredInt(_ f: [String: Node], _ key: String, in node: Node) throws(SecretConfigError) -> Int {
        guard let v = f[key] else { throw fail(node, "missing '\(key)'") }
        return try int(v)
    }

    func int(_ v: Node) throws(SecretConfigError) -> Int {
        guard let s = v.scalar?.string, let i = Int(s) else { throw fail(v, "expected an integer") }
        return i
    }

    func lengthRange(_ v: Node) throws(SecretConfigError) -> ClosedRange<Int> {
        guard let s = v.scalar?.string else { throw fail(v, "expected a length N or a range N-M") }
        let bounds = s.split(separator: "-", omittingEmptySubsequences: false)
        guard bounds.count <= 2, let lo = Int(bounds[0]), let hi = Int(bounds[bounds.count - 1]), lo >= 0, lo <= hi else {
            throw fail(v, "expected a length N or a range N-M")
        }
        return lo...hi
    }

    func bool(_ v: Node?) throws(SecretConfigError) -> Bool? {
        guard let v else { return nil }
        switch v.scalar?.string {
        case "true": return true
        case "false": return false
        default: throw fail(v, "expected true or false")
        }
    }

    func optionalString(_ v: Node?) throws(SecretConfigError) -> String? {
        guard let v else { return nil }
        guard let s = v.scalar?.string else { throw fail(v, "expected a string") }
        return s
    }

    func stringList(_ v: Node?) throws(SecretConfigError) -> [String] {
        guard let v else { return [] }
        guard let seq = v.sequence else { throw fail(v, "expected a list of strings") }
        var out: [String] = []
        for item in seq {
            guard let s = item.scalar?.string, !s.isEmpty else { throw fail(item, "expected a non-empty string") }
            out.append(s)
        }
        return out
    }
}
