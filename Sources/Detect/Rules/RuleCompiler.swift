// From a YAML document to a compiled SigmaRule, collecting every problem with its position.
import Yams

/// A scalar as a rule reads it (YAML 1.2 core schema for plain scalars: `true`/`false`,
/// `null`/`~`/empty, numbers; anything quoted or tagged `!!str` is a string).
enum RuleScalar: Equatable {
    case string(String), number(String), bool(Bool), null

    init(_ s: Node.Scalar) {
        if s.style != .plain || s.tag.description == "tag:yaml.org,2002:str" {
            self = .string(s.string); return
        }
        let t = s.string
        switch t {
        case "", "~", "null", "Null", "NULL": self = .null
        case "true", "True", "TRUE": self = .bool(true)
        case "false", "False", "FALSE": self = .bool(false)
        default:
            if t.contains(where: { $0.isNumber }), t.allSatisfy({ "0123456789+-.eE".contains($0) }), Double(t) != nil {
                self = .number(t)
            } else {
                self = .string(t)
            }
        }
    }
}

struct RuleCompiler {
    struct Position { var line: Int; var column: Int }
    struct Loaded {
        var rule: SigmaRule
        var idAt: Position
        var signatureIdAt: Position
    }

    let file: String
    var errors: [RuleError] = []

    init(file: String) { self.file = file }

    static let levels: [String: Int] = ["informational": 3, "low": 3, "medium": 2, "high": 1, "critical": 1]
    static let unsupportedModifiers: Set<String> = [
        "windash", "wide", "utf16", "utf16le", "utf16be", "expand", "fieldref",
        "minute", "hour", "day", "week", "month", "year",
    ]

    mutating func fail(_ mark: Mark?, _ reason: String, offset: Int = 0) {
        errors.append(RuleError(file: file, line: mark?.line ?? 0, column: (mark?.column ?? 0) + offset, reason: reason))
    }

    /// Position of a character inside a scalar (plain or quoted on one line); the scalar's own
    /// position for block scalars, whose layout the mark does not describe.
    static func offsetIn(_ node: Node, _ offset: Int) -> Int {
        guard case .scalar(let s) = node else { return 0 }
        switch s.style {
        case .plain: return offset
        case .singleQuoted, .doubleQuoted: return offset + 1
        default: return 0
        }
    }

    mutating func compileFile(_ yaml: String) -> [Loaded] {
        var documents: [Node] = []
        do {
            var sequence = try Yams.compose_all(yaml: yaml)
            while let node = sequence.next() { documents.append(node) }
            if let error = sequence.error { yamlError(error); return [] }
        } catch {
            yamlError(error)
            return []
        }
        guard let first = documents.first else {
            errors.append(RuleError(file: file, line: 1, column: 1, reason: "empty file: no rule"))
            return []
        }
        if documents.count > 1 {
            fail(documents[1].mark, "one rule per file: a second YAML document starts here")
            return []
        }
        guard let loaded = compileRule(first) else { return [] }
        return [loaded]
    }

    mutating func yamlError(_ error: any Error) {
        guard let y = error as? YamlError else {
            errors.append(RuleError(file: file, line: 0, column: 0, reason: "YAML: \(error)"))
            return
        }
        switch y {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let ctx = context.map { " (\($0.text))" } ?? ""
            fail(mark, "YAML: \(problem)\(ctx)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            fail(context.mark, "YAML: duplicate key '\(duplicates.joined(separator: "', '"))'")
        case .reader(let problem, _, _, _):
            errors.append(RuleError(file: file, line: 0, column: 0, reason: "YAML: \(problem)"))
        default:
            errors.append(RuleError(file: file, line: 0, column: 0, reason: "YAML: \(y)"))
        }
    }

    /// The members of a mapping by name, first occurrence kept (YAML rejects duplicates anyway).
    mutating func members(_ m: Node.Mapping, what: String) -> [(key: String, keyNode: Node, value: Node)] {
        var out: [(key: String, keyNode: Node, value: Node)] = []
        for (k, v) in m {
            guard case .scalar(let s) = k else {
                fail(k.mark, "\(what): keys are plain names")
                continue
            }
            out.append((key: s.string, keyNode: k, value: v))
        }
        return out
    }

    /// A string-valued member; errors when it has another type. Nil when absent or wrong.
    mutating func string(_ node: Node, _ name: String) -> String? {
        guard case .scalar(let s) = node, case .string(let text) = RuleScalar(s) else {
            fail(node.mark, "'\(name)' must be a string")
            return nil
        }
        return text
    }

    mutating func compileRule(_ root: Node) -> Loaded? {
        guard case .mapping(let top) = root else {
            fail(root.mark, "a rule is a YAML mapping (title, id, detection, ...)")
            return nil
        }
        let errorsBefore = errors.count
        var fields: [String: (keyNode: Node, value: Node)] = [:]
        for m in members(top, what: "rule") where fields[m.key] == nil { fields[m.key] = (m.keyNode, m.value) }
        func missing(_ name: String) -> String { "missing '\(name)'" }

        if fields["correlation"] != nil {
            fail(fields["correlation"]?.keyNode.mark, "correlation rules are not supported")
        }
        var title: String?
        if let n = fields["title"]?.value { title = string(n, "title") } else { fail(root.mark, missing("title")) }

        var id: String?
        var idAt = Position(line: 0, column: 0)
        if let n = fields["id"]?.value {
            id = string(n, "id")
            if id?.isEmpty == true { fail(n.mark, "'id' is empty"); id = nil }
            idAt = Position(line: n.mark?.line ?? 0, column: n.mark?.column ?? 0)
        } else {
            fail(root.mark, missing("id"))
        }

        var signatureId: Int?
        var sidAt = Position(line: 0, column: 0)
        if let n = fields["signature_id"]?.value {
            sidAt = Position(line: n.mark?.line ?? 0, column: n.mark?.column ?? 0)
            if case .scalar(let s) = n, case .number(let t) = RuleScalar(s), let v = Int(t), v > 0 {
                signatureId = v
            } else {
                fail(n.mark, "'signature_id' must be a positive integer")
            }
        } else {
            fail(root.mark, missing("signature_id"))
        }

        var category: AlertCategory?
        if let n = fields["category"]?.value {
            if let text = string(n, "category") {
                category = AlertCategory(rawValue: text)
                if category == nil {
                    fail(n.mark, "unknown category '\(text)' (one of: \(AlertCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
            }
        } else {
            fail(root.mark, missing("category"))
        }

        var level: String?
        if let n = fields["level"]?.value {
            if let text = string(n, "level") {
                if Self.levels[text] != nil { level = text } else {
                    fail(n.mark, "unknown level '\(text)' (one of: informational, low, medium, high, critical)")
                }
            }
        } else {
            fail(root.mark, missing("level"))
        }

        var status: RuleStatus?
        if let n = fields["status"]?.value, let text = string(n, "status") {
            status = RuleStatus(rawValue: text)
            if status == nil {
                fail(n.mark, "unknown status '\(text)' (one of: \(RuleStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }

        var description: String?
        if let n = fields["description"]?.value { description = string(n, "description") }

        var tags: [String] = []
        if let n = fields["tags"]?.value {
            if case .sequence(let seq) = n {
                for t in seq { if let s = string(t, "tags") { tags.append(s) } }
            } else {
                fail(n.mark, "'tags' must be a list of strings")
            }
        }

        if let n = fields["logsource"]?.value {
            checkLogsource(n)
        } else {
            fail(root.mark, missing("logsource"))
        }

        var compiled: (selections: [Selection], condition: ConditionNode)?
        if let n = fields["detection"]?.value {
            compiled = compileDetection(n)
        } else {
            fail(root.mark, missing("detection"))
        }

        guard errors.count == errorsBefore, let title, let id, let signatureId, let category, let level,
              let severity = Self.levels[level], let compiled else { return nil }
        let rule = SigmaRule(id: id, title: title, signatureId: signatureId, category: category, severity: severity,
                             level: level, status: status, description: description, tags: tags, file: file,
                             line: root.mark?.line ?? 1,
                             detection: CompiledDetection(selections: compiled.selections, condition: compiled.condition))
        return Loaded(rule: rule, idAt: idAt, signatureIdAt: sidAt)
    }

    mutating func checkLogsource(_ n: Node) {
        guard case .mapping(let m) = n else {
            fail(n.mark, "'logsource' must be a mapping (product: mcpsonar, category: mcp)")
            return
        }
        var product: String?, category: String?
        for member in members(m, what: "logsource") {
            switch member.key {
            case "product": product = string(member.value, "logsource.product")
                if let p = product, p != "mcpsonar" { fail(member.value.mark, "logsource.product '\(p)' is not mcpsonar") }
            case "category": category = string(member.value, "logsource.category")
                if let c = category, c != "mcp" {
                    fail(member.value.mark, "logsource.category '\(c)' is not supported: only 'mcp' (one message)")
                }
            case "service":
                fail(member.value.mark, "logsource.service is not used by mcpsonar rules")
            default: break
            }
        }
        if product == nil && !m.contains(where: { $0.key.string == "product" }) { fail(n.mark, "missing 'logsource.product' (mcpsonar)") }
        if category == nil && !m.contains(where: { $0.key.string == "category" }) { fail(n.mark, "missing 'logsource.category' (mcp)") }
    }

    mutating func compileDetection(_ n: Node) -> (selections: [Selection], condition: ConditionNode)? {
        guard case .mapping(let m) = n else {
            fail(n.mark, "'detection' must be a mapping of selections and a condition")
            return nil
        }
        var names: [String] = []
        var selections: [Selection] = []
        var ok = true
        var conditionNode: Node?
        for member in members(m, what: "detection") {
            switch member.key {
            case "condition":
                conditionNode = member.value
            case "timeframe":
                fail(member.keyNode.mark, "'timeframe' is not supported: rules see one message at a time")
                ok = false
            default:
                let name = member.key
                if name.isEmpty || name.contains(where: { $0 == " " || $0 == "(" || $0 == ")" || $0 == "*" || $0 == "|" })
                    || ["and", "or", "not", "of", "them", "all", "any", "1"].contains(name.lowercased()) {
                    fail(member.keyNode.mark, "invalid selection name '\(name)'")
                    ok = false
                    continue
                }
                names.append(name)
                if let s = compileSelection(name, member.value) { selections.append(s) } else {
                    ok = false
                    selections.append(Selection(name: name, alternatives: []))
                }
            }
        }
        if names.isEmpty && ok { fail(n.mark, "'detection' has no selection"); ok = false }
        guard let conditionNode else {
            fail(n.mark, "missing 'detection.condition'")
            return nil
        }
        var texts: [(String, Node)] = []
        switch conditionNode {
        case .scalar(let s):
            if case .string(let t) = RuleScalar(s) { texts = [(t, conditionNode)] } else {
                fail(conditionNode.mark, "'condition' must be a string"); return nil
            }
        case .sequence(let seq) where !seq.isEmpty:
            for c in seq {
                guard case .scalar(let s) = c, case .string(let t) = RuleScalar(s) else {
                    fail(c.mark, "'condition' must be a string"); return nil
                }
                texts.append((t, c))
            }
        default:
            fail(conditionNode.mark, "'condition' must be a string"); return nil
        }
        var conditions: [ConditionNode] = []
        for (text, node) in texts {
            do throws(ConditionError) {
                conditions.append(try ConditionParser.parse(text, selections: names))
            } catch {
                fail(node.mark, error.reason, offset: Self.offsetIn(node, error.offset))
                ok = false
            }
        }
        guard ok else { return nil }
        return (selections, conditions.count == 1 ? conditions[0] : .or(conditions))
    }

    mutating func compileSelection(_ name: String, _ n: Node) -> Selection? {
        switch n {
        case .mapping(let m):
            guard let tests = compileMap(m, n) else { return nil }
            return Selection(name: name, alternatives: [tests])
        case .sequence(let seq):
            if seq.isEmpty { fail(n.mark, "selection '\(name)' is empty"); return nil }
            var alternatives: [[FieldTest]] = []
            var ok = true
            for element in seq {
                guard case .mapping(let m) = element else {
                    fail(element.mark, "selection '\(name)': keyword selections (values without a field) are not supported; write 'field: value'")
                    ok = false
                    continue
                }
                if let tests = compileMap(m, element) { alternatives.append(tests) } else { ok = false }
            }
            return ok ? Selection(name: name, alternatives: alternatives) : nil
        default:
            fail(n.mark, "selection '\(name)': keyword selections (values without a field) are not supported; write 'field: value'")
            return nil
        }
    }

    mutating func compileMap(_ m: Node.Mapping, _ n: Node) -> [FieldTest]? {
        if m.isEmpty { fail(n.mark, "empty selection: name at least one field"); return nil }
        var tests: [FieldTest] = []
        var ok = true
        for member in members(m, what: "selection") {
            if let t = compileField(member.key, member.keyNode, member.value) { tests.append(t) } else { ok = false }
        }
        return ok ? tests : nil
    }

    enum Match: Equatable {
        case text(WildcardPattern.TextMode), re, cidr, exists, compare(ValueTest.Comparison)
    }

    mutating func compileField(_ key: String, _ keyNode: Node, _ valueNode: Node) -> FieldTest? {
        let parts = key.split(separator: "|", omittingEmptySubsequences: false)
        let field = String(parts[0])
        if field.isEmpty {
            fail(keyNode.mark, "a field name is required before modifiers (keyword searches are not supported)")
            return nil
        }
        if let problem = MessageFieldVocabulary.problem(with: field) {
            fail(keyNode.mark, problem)
            return nil
        }
        var match: (Match, String)?
        var all = false, cased = false
        var base64: String?
        var reFlags: [String] = []
        var offset = field.count
        var ok = true
        for part in parts.dropFirst() {
            let mod = String(part)
            let at = Self.offsetIn(keyNode, offset + 1)
            offset += 1 + part.count
            func setMatch(_ m: Match) {
                if let (_, previous) = match {
                    fail(keyNode.mark, "modifiers '\(previous)' and '\(mod)' cannot be combined", offset: at)
                    ok = false
                } else {
                    match = (m, mod)
                }
            }
            switch mod {
            case "contains": setMatch(.text(.contains))
            case "startswith": setMatch(.text(.startsWith))
            case "endswith": setMatch(.text(.endsWith))
            case "re": setMatch(.re)
            case "cidr": setMatch(.cidr)
            case "exists": setMatch(.exists)
            case "gt": setMatch(.compare(.gt))
            case "gte": setMatch(.compare(.gte))
            case "lt": setMatch(.compare(.lt))
            case "lte": setMatch(.compare(.lte))
            case "all": all = true
            case "cased": cased = true
            case "base64", "base64offset":
                if let previous = base64 {
                    fail(keyNode.mark, "modifiers '\(previous)' and '\(mod)' cannot be combined", offset: at); ok = false
                } else if match != nil {
                    fail(keyNode.mark, "modifier '\(mod)' must come before the match modifier", offset: at); ok = false
                }
                base64 = mod
            case "i", "m", "s":
                if match?.0 == .re { reFlags.append(mod) } else {
                    fail(keyNode.mark, "modifier '\(mod)' only follows 're'", offset: at); ok = false
                }
            case "":
                fail(keyNode.mark, "empty modifier", offset: at); ok = false
            default:
                if Self.unsupportedModifiers.contains(mod) {
                    fail(keyNode.mark, "modifier '\(mod)' is not supported", offset: at)
                } else {
                    fail(keyNode.mark, "unknown modifier '\(mod)'", offset: at)
                }
                ok = false
            }
        }
        guard ok else { return nil }
        let kind = match?.0 ?? .text(.exact)
        let isText: Bool = if case .text = kind { true } else { false }
        if cased && !isText {
            fail(keyNode.mark, "modifier 'cased' only applies to string matching"); return nil
        }
        if let b = base64, !isText {
            fail(keyNode.mark, "modifier '\(b)' only applies to string matching"); return nil
        }
        if base64 == "base64offset" && kind != .text(.contains) {
            fail(keyNode.mark, "modifier 'base64offset' needs 'contains'"); return nil
        }
        if all && kind == .exists {
            fail(keyNode.mark, "modifiers 'exists' and 'all' cannot be combined"); return nil
        }

        // The values: one scalar or a list of scalars.
        var valueNodes: [(Node.Scalar, Node)] = []
        switch valueNode {
        case .scalar(let s): valueNodes = [(s, valueNode)]
        case .sequence(let seq):
            if seq.isEmpty { fail(valueNode.mark, "field '\(field)': empty list of values"); return nil }
            for e in seq {
                guard case .scalar(let s) = e else {
                    fail(e.mark, "field '\(field)': a value list holds only scalars"); return nil
                }
                valueNodes.append((s, e))
            }
        default:
            fail(valueNode.mark, "field '\(field)': a value is a scalar or a list of scalars")
            return nil
        }

        if kind == .exists {
            guard valueNodes.count == 1, case .bool(let b) = RuleScalar(valueNodes[0].0) else {
                fail(valueNode.mark, "'exists' expects true or false"); return nil
            }
            return FieldTest(field: field, exists: b, tests: [], all: false)
        }

        var tests: [ValueTest] = []
        for (s, node) in valueNodes {
            let scalar = RuleScalar(s)
            switch kind {
            case .exists: break
            case .cidr:
                guard case .string(let t) = scalar, let block = CIDRBlock(t) else {
                    fail(node.mark, "invalid CIDR '\(s.string)'"); ok = false; continue
                }
                tests.append(.cidr(block))
            case .compare(let op):
                guard case .number(let t) = scalar, let d = Double(t), d.isFinite else {
                    fail(node.mark, "'\(match?.1 ?? "")' expects a number"); ok = false; continue
                }
                tests.append(.compare(op, d))
            case .re:
                if scalar == .null { fail(node.mark, "'re' expects a regular expression, not null"); ok = false; continue }
                do {
                    var re = try Regex(s.string)
                    if reFlags.contains("i") { re = re.ignoresCase() }
                    if reFlags.contains("m") { re = re.anchorsMatchLineEndings() }
                    if reFlags.contains("s") { re = re.dotMatchesNewlines() }
                    tests.append(.regex(CompiledRegex(re)))
                } catch {
                    fail(node.mark, "invalid regular expression '\(s.string)': \(error)"); ok = false
                }
            case .text(let mode):
                switch scalar {
                case .null:
                    if mode != .exact || base64 != nil {
                        fail(node.mark, "null cannot be combined with '\(match?.1 ?? base64 ?? "")'"); ok = false; continue
                    }
                    tests.append(.null)
                case .bool(let b) where mode == .exact && base64 == nil && !cased:
                    tests.append(.bool(b))
                case .number(let t) where mode == .exact && base64 == nil && !cased:
                    tests.append(.number(Double(t) ?? .nan, t))
                default:
                    let text = s.string
                    if let b = base64 {
                        let variants = b == "base64" ? [Base64.encode(Array(text.utf8))] : Base64.offsetVariants(Array(text.utf8))
                        tests.append(.text(variants.map {
                            WildcardPattern(pieces: mode.wrap([.literal($0)]), caseSensitive: true)
                        }))
                    } else {
                        tests.append(.text([WildcardPattern(sigma: text, mode: mode, caseSensitive: cased)]))
                    }
                }
            }
        }
        guard ok else { return nil }
        return FieldTest(field: field, exists: nil, tests: tests, all: all)
    }
}

extension WildcardPattern.TextMode {
    func wrap(_ pieces: [WildcardPattern.Piece]) -> [WildcardPattern.Piece] {
        switch self {
        case .exact: return pieces
        case .contains: return [.many] + pieces + [.many]
        case .startsWith: return pieces + [.many]
        case .endsWith: return [.many] + pieces
        }
    }
}

/// Standard base64 (RFC 4648, padded) for the `base64` and `base64offset` modifiers.
enum Base64 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let v = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(v >> 18 & 63)])
            out.append(alphabet[Int(v >> 12 & 63)])
            out.append(i + 1 < bytes.count ? alphabet[Int(v >> 6 & 63)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(v & 63)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The three encodings of `bytes` as it may sit at any offset inside a longer base64 text:
    /// encode behind 0, 1 or 2 filler bytes, then drop the characters that depend on the
    /// filler (start) or on what follows (end).
    static func offsetVariants(_ bytes: [UInt8]) -> [String] {
        var out: [String] = []
        for shift in 0..<3 {
            let encoded = Array(encode([UInt8](repeating: 0x20, count: shift) + bytes).utf8)
            let start = [0, 2, 3][shift]
            let endTrim = [0, 3, 2][(bytes.count + shift) % 3]
            let end = encoded.count - endTrim
            if end > start { out.append(String(decoding: encoded[start..<end], as: UTF8.self)) }
        }
        return out
    }
}
