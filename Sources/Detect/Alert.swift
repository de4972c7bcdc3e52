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
    // `finding` first: the memberwise initializer (`finding:timestamp:...`) then differs from the
    // public one, which delegates to it (assigning each field copied the alert, its message's
    // references included, as it was made; see `MCPPayload`).
    public var finding: Finding
    public var timestamp: Timestamp
    public var flowId: UInt64?
    public var source: Endpoint?
    public var destination: Endpoint?
    public var transport: TransportProtocol
    public var appProto: String?
    /// The message concerned, when there is one.
    public var mcp: MCPEvent?
    /// For egress alerts: the destination's best name and how it was learnt.
    public var egressHost: String?
    public var egressVia: String?
}

extension Alert {
    public init(timestamp: Timestamp, flowId: UInt64?, source: Endpoint?, destination: Endpoint?,
                transport: TransportProtocol = .tcp, appProto: String?, finding: Finding, mcp: MCPEvent? = nil) {
        self.init(finding: finding, timestamp: timestamp, flowId: flowId, source: source, destination: destination,
                  transport: transport, appProto: appProto, mcp: mcp, egressHost: nil, egressVia: nil)
    }
}
