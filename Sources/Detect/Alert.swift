import SonarCore
import SonarMCP

/// The contract's `alert.category`.
public enum AlertCategory: String, Sendable, CaseIterable {
    case secret
    case toolPoisoning = "tool-poisoning"
    case toolChange = "tool-change"
    case method
    case sensitivePath = "sensitive-path"
    case commandInjection = "command-injection"
    case egress
    case exposure
    case `protocol`
    case pii
}

/// What matched, without the secret itself: a masked form, the hash of the exact matched bytes
/// (to follow the same secret across events), and where in the message it was.
public struct Evidence: Sendable, Equatable {
    public var redacted: String
    public var sha256: String
    /// A JSON pointer into the message (`/params/arguments/query`) or `header:<name>`.
    public var path: String
    public init(redacted: String, sha256: String, path: String) {
        self.redacted = redacted; self.sha256 = sha256; self.path = path
    }
}

/// One detector or rule hit on one message (or connection), before it becomes an alert.
public struct Finding: Sendable, Equatable {
    /// The rule's own id as written in its rule file (`alert.rule`).
    public var rule: String
    public var signatureId: Int
    /// One human line: what was seen (never the secret itself).
    public var signature: String
    public var category: AlertCategory
    /// 1 high, 2 medium, 3 low.
    public var severity: Int
    public var evidence: Evidence?
    public init(rule: String, signatureId: Int, signature: String, category: AlertCategory, severity: Int, evidence: Evidence? = nil) {
        self.rule = rule; self.signatureId = signatureId; self.signature = signature
        self.category = category; self.severity = severity; self.evidence = evidence
    }
}

/// The contract's `event_type: "alert"`.
public struct Alert: Sendable {
    public var timestamp: Timestamp
    public var flowId: UInt64?
    public var source: Endpoint?
    public var destination: Endpoint?
    public var transport: TransportProtocol
    public var appProto: String?
    public var finding: Finding
    /// The message concerned, when there is one.
    public var mcp: MCPEvent?
    /// For egress alerts: the destination's best name and how it was learnt.
    public var egressHost: String?
    public var egressVia: String?

    public init(timestamp: Timestamp, flowId: UInt64?, source: Endpoint?, destination: Endpoint?,
                transport: TransportProtocol = .tcp, appProto: String?, finding: Finding, mcp: MCPEvent? = nil) {
        self.timestamp = timestamp; self.flowId = flowId; self.source = source; self.destination = destination
        self.transport = transport; self.appProto = appProto; self.finding = finding; self.mcp = mcp
    }
}
