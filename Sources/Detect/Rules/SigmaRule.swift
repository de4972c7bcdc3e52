// A loaded Sigma rule and how it becomes a finding.

/// Sigma's `status`. Deprecated and unsupported rules are loaded (their ids stay reserved) but
/// never evaluated.
public enum RuleStatus: String, Sendable, CaseIterable {
    case stable, test, experimental, deprecated, unsupported

    /// False for `deprecated` and `unsupported`.
    public var isEvaluated: Bool { self != .deprecated && self != .unsupported }
}

/// One Sigma rule of `logsource: {product: mcpsonar, category: mcp}`, compiled: it is evaluated
/// against the fields of one MCP message.
public struct SigmaRule: Sendable {
    /// The rule's own `id` (`alert.rule`).
    public var id: String
    public var title: String
    /// The MCPSonar extension `signature_id` (`alert.signature_id`).
    public var signatureId: Int
    /// The MCPSonar extension `category` (`alert.category`).
    public var category: AlertCategory
    /// 1 for `critical` and `high`, 2 for `medium`, 3 for `low` and `informational`.
    public var severity: Int
    /// Sigma's `level` as written.
    public var level: String
    /// Nil when the rule has no `status`.
    public var status: RuleStatus?
    public var description: String?
    public var tags: [String]
    /// The file the rule was read from and the line its document starts on.
    public var file: String
    public var line: Int

    let detection: CompiledDetection

    /// True if the rule's condition holds for `fields` (whatever its status).
    public func matches(_ fields: any FieldSource) -> Bool {
        detection.condition.evaluate(detection.selections, fields)
    }

    /// True unless the rule is `deprecated` or `unsupported`.
    public var isEvaluated: Bool { status?.isEvaluated ?? true }
}

/// The compiled `detection` of a rule: immutable, shared by copies of the rule.
final class CompiledDetection: Sendable {
    let selections: [Selection]
    let condition: ConditionNode
    /// The `mcp.method` values (folded as `WildcardPattern` folds them) the condition cannot hold
    /// without, when it says so plainly: it is, or is an `and` of, a one-map selection with a
    /// plain case-insensitive `mcp.method` list. `RuleSet.evaluate` reads the method once per
    /// message and skips the rules it rules out (most rules name one method). Nil: no gate.
    let methodGate: [[UInt8]]?

    init(selections: [Selection], condition: ConditionNode) {
        self.selections = selections
        self.condition = condition
        self.methodGate = Self.gate(condition, selections)
    }

    private static func gate(_ c: ConditionNode, _ selections: [Selection]) -> [[UInt8]]? {
        switch c {
        case .selection(let i):
            guard i < selections.count, selections[i].alternatives.count == 1 else { return nil }
            for t in selections[i].alternatives[0] {
                if let g = methodValues(t) { return g }
            }
            return nil
        case .and(let terms):
            for t in terms {
                if let g = gate(t, selections) { return g }
            }
            return nil
        case .not, .or:
            return nil
        }
    }

    /// The exact values of a plain `mcp.method` test: no `exists`, no `all`, only
    /// case-insensitive exact strings.
    private static func methodValues(_ t: FieldTest) -> [[UInt8]]? {
        guard t.key.path == .event(.method), t.exists == nil, !t.all, !t.tests.isEmpty else { return nil }
        var out: [[UInt8]] = []
        for v in t.tests {
            guard case .text(let patterns) = v else { return nil }
            for p in patterns {
                guard !p.caseSensitive, case .exact(let bytes) = p.shape else { return nil }
                out.append(bytes)
            }
        }
        return out
    }
}

extension Finding {
    /// A finding for a rule hit; `signature` defaults to the rule's title.
    public init(rule: SigmaRule, signature: String? = nil) {
        self.init(rule: rule.id, signatureId: rule.signatureId, signature: signature ?? rule.title,
                  category: rule.category, severity: rule.severity)
    }
}
