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
    /// Values of `mcp.method` or `mcp.kind` (folded as `WildcardPattern` folds them) that the
    /// condition cannot hold without, where it says so plainly: it is, or is an `and` of, one-map
    /// selections with plain case-insensitive lists for those fields. `RuleSet.evaluate` reads
    /// the two fields once per message and skips the rules they rule out, most of them: each
    /// names its methods or kinds. Empty: no gate.
    let gates: [RuleGate]

    init(selections: [Selection], condition: ConditionNode) {
        self.selections = selections
        self.condition = condition
        var gates: [RuleGate] = []
        Self.collectGates(condition, selections, into: &gates)
        self.gates = gates
    }

    private static func collectGates(_ c: ConditionNode, _ selections: [Selection], into gates: inout [RuleGate]) {
        switch c {
        case .selection(let i):
            guard i < selections.count, selections[i].alternatives.count == 1 else { return }
            for t in selections[i].alternatives[0] {
                if let g = RuleGate(t) { gates.append(g) }
            }
        case .and(let terms):
            for t in terms { collectGates(t, selections, into: &gates) }
        case .not, .or:
            return
        }
    }
}

/// A field test every match needs: `field` has one of `values`.
struct RuleGate: Sendable {
    enum Field: Sendable { case method, kind }
    let field: Field
    let values: [[UInt8]]

    /// The gate a test is, when it is a plain test of `mcp.method` or `mcp.kind`: no `exists`,
    /// no `all`, only case-insensitive exact strings.
    init?(_ t: FieldTest) {
        switch t.key.path {
        case .event(.method): field = .method
        case .event(.kind): field = .kind
        default: return nil
        }
        guard t.exists == nil, !t.all, !t.tests.isEmpty else { return nil }
        var out: [[UInt8]] = []
        for v in t.tests {
            guard case .text(let patterns) = v else { return nil }
            for p in patterns {
                guard !p.caseSensitive, case .exact(let bytes) = p.shape else { return nil }
                out.append(bytes)
            }
        }
        values = out
    }
}

extension Finding {
    /// A finding for a rule hit; `signature` defaults to the rule's title.
    public init(rule: SigmaRule, signature: String? = nil) {
        self.init(rule: rule.id, signatureId: rule.signatureId, signature: signature ?? rule.title,
                  category: rule.category, severity: rule.severity)
    }
}
