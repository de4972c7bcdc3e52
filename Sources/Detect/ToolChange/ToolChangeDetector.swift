import SonarMCP

/// Rug pulls and shadowing, from the tracker's tool inventories: a tool whose definition changed
/// since the server first presented it, tools that appear or disappear later, a tool name two
/// servers both offer, and, with pins, anything the approved inventory does not have.
public final class ToolChangeDetector {
    public private(set) var policy: Policy
    public private(set) var pins: PinSet?
    /// Servers offering each tool name (for shadowing), bounded.
    private var offeredBy: [String: Set<String>] = [:]
    private var shadowReported: Set<String> = []
    private let maxNames = 100_000

    public init(policy: Policy, pins: PinSet?) {
        self.policy = policy
        self.pins = pins
    }

    /// New rules (SIGHUP): what servers offered so far carries over.
    public func reconfigure(policy: Policy, pins: PinSet?) {
        self.policy = policy
        self.pins = pins
    }

    /// One inventory change, seen in the `tools/list` result of a server whose serverInfo name is `serverName`.
    public func observe(_ o: ToolObservation, serverName: String?, report: (Finding) -> Void) {
        switch o {
        case .added(let server, let tool, let initial):
            if !initial, let sev = policy.toolAddedLater {
                report(Finding(rule: "tool-change.tool-added", signatureId: 200702,
                               signature: "server \(display(server, serverName)) added tool '\(tool.name)' after its first listing",
                               category: .toolChange, severity: sev, evidence: evidence(tool)))
            }
            shadowing(tool, server: server, serverName: serverName, report)
            pinned(tool, server: server, serverName: serverName, report)
        case .changed(let server, let tool, _, let members):
            if let sev = policy.definitionChanged {
                // Point at the first member that changed (usually the description).
                let what = members.isEmpty ? "definition" : members.joined(separator: ", ")
                let path = "/result/tools/\(tool.index)" + (members.first.map { "/" + pointerEscape($0) } ?? "")
                report(Finding(rule: "tool-change.definition-changed", signatureId: 200701,
                               signature: "server \(display(server, serverName)) changed tool '\(tool.name)' (\(what)) since first presenting it",
                               category: .toolChange, severity: sev,
                               evidence: Evidence(redacted: tool.name, sha256: tool.sha256, path: path)))
            }
            pinned(tool, server: server, serverName: serverName, report)
        case .removed(let server, let name, _):
            if let sev = policy.toolRemoved {
                report(Finding(rule: "tool-change.tool-removed", signatureId: 200703,
                               signature: "server \(display(server, serverName)) no longer lists tool '\(name)'",
                               category: .toolChange, severity: sev,
                               evidence: Evidence(redacted: name, sha256: Redaction.sha256Hex(name.utf8), path: "/result/tools")))
            }
            offeredBy[name]?.remove(server)
        }
    }

    private func shadowing(_ tool: ToolDefinition, server: String, serverName: String?, _ report: (Finding) -> Void) {
        if offeredBy[tool.name] == nil && offeredBy.count >= maxNames { offeredBy.removeAll(); shadowReported.removeAll() }
        if shadowReported.count >= maxNames { shadowReported.removeAll() }
        var servers = offeredBy[tool.name, default: []]
        let other = servers.lazy.filter { $0 != server }.min()
        // A few servers per name are enough to show shadowing; more would cost per tool added.
        if servers.count < 8 { servers.insert(server) }
        offeredBy[tool.name] = servers
        guard let other, let sev = policy.shadowing,
              shadowReported.insert(tool.name + " " + server).inserted else { return }
        report(Finding(rule: "tool-change.shadowing", signatureId: 200704,
                       signature: "tool '\(tool.name)' offered by \(display(server, serverName)) is also offered by \(other)",
                       category: .toolChange, severity: sev, evidence: evidence(tool)))
    }

    private func pinned(_ tool: ToolDefinition, server: String, serverName: String?, _ report: (Finding) -> Void) {
        guard let pins else { return }
        let pinnedTools = pins.pins(server: server, name: serverName)?.tools
        if let hash = pinnedTools?[tool.name] {
            if hash != tool.sha256, let sev = policy.pinMismatch {
                report(Finding(rule: "tool-change.pin-mismatch", signatureId: 200705,
                               signature: "tool '\(tool.name)' of \(display(server, serverName)) differs from its pinned definition",
                               category: .toolChange, severity: sev, evidence: evidence(tool)))
            }
        } else if let sev = policy.notPinned {
            report(Finding(rule: "tool-change.not-pinned", signatureId: 200706,
                           signature: "tool '\(tool.name)' of \(display(server, serverName)) is not in the approved inventory",
                           category: .toolChange, severity: sev, evidence: evidence(tool)))
        }
    }

    private func display(_ server: String, _ name: String?) -> String {
        name.map { "'\($0)' (\(server))" } ?? server
    }

    /// The tool's name, the hash of its canonical definition, and where it sits in the result.
    private func evidence(_ tool: ToolDefinition) -> Evidence {
        Evidence(redacted: tool.name, sha256: tool.sha256, path: "/result/tools/\(tool.index)")
    }

    /// RFC 6901: `~` and `/` in a member name.
    private func pointerEscape(_ s: String) -> String {
        s.replacing("~", with: "~0").replacing("/", with: "~1")
    }
}
