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
    init(selections: [Selection], condition: ConditionNode) {
        self.selections = selections
        self.condition = condition
    }
}

extension Finding {
    /// A finding for a rule hit; `signature` defaults to the rule's title.
    public init(rule: SigmaRule, signature: String? = nil) {
        self.init(rule: rule.id, signatureId: rule.signatureId, signature: signature ?? rule.title,
                  category: rule.category, severity: rule.severity)
    }
}
