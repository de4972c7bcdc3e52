import SonarCore
import SonarMCP

/// The checks that follow from the protocol and the operator's policy rather than from content:
/// method catalogue, protocol anomalies, budgets. Stateful (budget windows), one per engine.
public final class PolicyDetectors {
    // Unchecked exclusivity on the four fields below (read for every message): each access is a
    // read of a value, an assignment by `reconfigure` between messages, or one dictionary
    // operation with a `RateWindow` update inside; none runs code of this class.
    @exclusivity(unchecked) public private(set) var catalogue: MethodCatalogue
    @exclusivity(unchecked) public private(set) var policy: Policy
    /// Whether a server listed a tool (nil: no complete listing seen).
    public var toolListed: (_ server: String, _ tool: String) -> Bool? = { _, _ in nil }

    /// Recent tools/call times per client host and per server+tool, for the per-minute budgets.
    @exclusivity(unchecked) private var clientCalls: [IPAddress: RateWindow] = [:]
    @exclusivity(unchecked) private var toolCalls: [ToolKey: RateWindow] = [:]
    private let maxTrackedKeys = 100_000
    /// The catalogue's entries of recent methods, by the method's bytes: requests use a few
    /// method names, and the catalogue's dictionary hashed each one with SipHash (about 440
    /// instructions a request). Made anew with a new catalogue.
    private var recentMethods = PolicyDetectors.methodCache()

    private static func methodCache() -> BytesCache<MethodCatalogue.Entry?> {
        BytesCache(slotCount: 256, maxBytes: 64, seed: 0x6D65_7468_6F64_7321)
    }

    /// A server's tool, for its budget. Not the two names joined with a space: then server "a b"
    /// with tool "c" and server "a" with tool "b c" shared one window (and each call made a String).
    private struct ToolKey: Hashable {
        var server: String
        var tool: String
    }

    public init(catalogue: MethodCatalogue, policy: Policy) {
        self.catalogue = catalogue
        self.policy = policy
    }

    /// New rules (SIGHUP): budget windows carry over.
    public func reconfigure(catalogue: MethodCatalogue, policy: Policy) {
        self.catalogue = catalogue
        self.policy = policy
        recentMethods = Self.methodCache()
    }

    public func inspect(_ e: MCPEvent, report: (Finding) -> Void) {
        methods(e, report)
        protocolAnomalies(e, report)
        budgets(e, report)
    }

    // MARK: - methods

    private func methods(_ e: MCPEvent, _ report: (Finding) -> Void) {
        guard e.kind == .request || e.kind == .notification, let method = e.method else { return }
        let sender = e.direction == .toServer ? "client" : "server"
        let known = method.withUTF8Bytes { bytes in
            recentMethods.value(for: UnsafeRawBufferPointer(bytes)) { catalogue.methods[method] }
        }
        guard let entry = known else {
            if let sev = policy.unknownMethod {
                report(Finding(rule: "method.unknown", signatureId: 200501,
                               signature: "MCP method '\(method)' is in no protocol version's catalogue (sent by the \(sender))",
                               category: .method, severity: sev, evidence: textEvidence(method, path: "/method")))
            }
            return
        }
        let allowed = entry.from == .both || (entry.from == .client) == (e.direction == .toServer)
        if !allowed, let sev = policy.wrongDirection {
            report(Finding(rule: "method.wrong-direction", signatureId: 200502,
                           signature: "MCP method '\(method)' sent by the \(sender), which only the \(entry.from.rawValue) may send",
                           category: .method, severity: sev, evidence: textEvidence(method, path: "/method")))
        }
        if let version = e.protocolVersion, let v = catalogue.versions.firstIndex(of: version),
           !(entry.since...entry.until).contains(v), let sev = policy.wrongVersion {
            report(Finding(rule: "method.wrong-version", signatureId: 200503,
                           signature: "MCP method '\(method)' is not part of protocol version \(version)",
                           category: .method, severity: sev, evidence: textEvidence(method, path: "/method")))
        }
        if e.direction == .toClient && allowed {
            if method == "sampling/createMessage", let sev = policy.serverSampling {
                report(Finding(rule: "method.server-sampling", signatureId: 200504,
                               signature: "server asks the client's model to sample (sampling/createMessage)",
                               category: .method, severity: sev, evidence: textEvidence(method, path: "/method")))
            }
            if method == "elicitation/create", let sev = policy.serverElicitation {
                report(Finding(rule: "method.server-elicitation", signatureId: 200505,
                               signature: "server asks the user for input (elicitation/create)",
                               category: .method, severity: sev, evidence: textEvidence(method, path: "/method")))
            }
        }
        if method == "tools/call", e.direction == .toServer, let tool = e.tool, let sev = policy.unlistedTool,
           toolListed(e.serverKey, tool) == false {
            report(Finding(rule: "method.unlisted-tool", signatureId: 200506,
                           signature: "tools/call of '\(tool)', a tool the server never listed",
                           category: .method, severity: sev, evidence: textEvidence(tool, path: "/params/name")))
        }
    }

    // MARK: - protocol

    private func protocolAnomalies(_ e: MCPEvent, _ report: (Finding) -> Void) {
        for header in e.headerMismatch {
            guard let sev = policy.headerMismatch else { break }
            report(Finding(rule: "protocol.header-mismatch", signatureId: 200601,
                           signature: "\(header) header disagrees with the JSON-RPC body",
                           category: .protocol, severity: sev, evidence: textEvidence(header, path: "header:\(header)")))
        }
        if e.kind == .response || e.kind == .error, e.id != nil, e.method == nil, let sev = policy.unknownResponseId {
            report(Finding(rule: "protocol.unknown-response-id", signatureId: 200602,
                           signature: "\(e.kind.rawValue) to a request id never seen", category: .protocol,
                           severity: sev, evidence: textEvidence(idText(e.id), path: "/id")))
        }
        if e.duplicateRequestId, let sev = policy.duplicateRequestId {
            report(Finding(rule: "protocol.duplicate-request-id", signatureId: 200603,
                           signature: "request id reused while the first request with it is unanswered",
                           category: .protocol, severity: sev, evidence: textEvidence(idText(e.id), path: "/id")))
        }
    }

    /// A payload on an MCP flow that is JSON-ish but not JSON-RPC 2.0 (or not JSON at all).
    public func malformed(reason: String) -> Finding? {
        guard let sev = policy.malformedJSONRPC else { return nil }
        return Finding(rule: "protocol.malformed-jsonrpc", signatureId: 200604,
                       signature: "malformed JSON-RPC payload (\(reason))", category: .protocol, severity: sev)
    }

    /// A transport-level anomaly on an MCP connection (a WebSocket frame beyond its limit, an
    /// invalid opcode, a bad or lost deflate stream, a connection joined mid-stream): the parser
    /// stopped or skipped there, so the analyst should know what the sensor could not read.
    public func transportAnomaly(_ name: String) -> Finding? {
        guard let sev = policy.transportAnomaly else { return nil }
        return Finding(rule: "protocol.transport-anomaly", signatureId: 200605,
                       signature: "transport anomaly on an MCP connection: \(name)", category: .protocol, severity: sev,
                       evidence: textEvidence(name, path: "connection"))
    }

    // MARK: - the sensor under attack

    /// Limit breaches of the parsers that an analyst must hear about: what came after was not read.
    public static let limitBreaches: Set<String> = [
        "http.header_too_large", "http.too_many_headers", "http.body_too_large", "http.upgrade_hold_overflow",
        "http.too_many_pending_requests", "sse.event_too_large", "websocket.frame_too_large",
        "websocket.message_too_large", "ndjson.line_too_long", "json.too_large", "json.too_deep",
        "json.too_many_elements", "json.string_too_long",
    ]
    /// Decompression stopped at its size or ratio limit.
    public static let decompressionBombs: Set<String> = [
        "http.decompressed_too_large", "http.decompression_ratio", "websocket.decompression_bomb",
    ]

    /// The finding for a breach, evasion sign or pressure the sensor itself met, by its counter
    /// name (`tcp.overlap_conflict`, `http.header_too_large`, ...); nil when the name raises no
    /// alert or its check is off. `detail` completes the signature (the limit and its value).
    public func sensorAnomaly(_ name: String, detail: String? = nil) -> Finding? {
        let suffix = detail.map { " (\($0))" } ?? ""
        let evidence = textEvidence(name, path: "connection")
        if Self.limitBreaches.contains(name) {
            guard let sev = policy.limitExceeded else { return nil }
            return Finding(rule: "protocol.limit-exceeded", signatureId: 200606,
                           signature: "limit exceeded on an MCP connection: \(name)\(suffix); the sensor skipped what was over it",
                           category: .protocol, severity: sev, evidence: evidence)
        }
        if Self.decompressionBombs.contains(name) {
            guard let sev = policy.decompressionBomb else { return nil }
            return Finding(rule: "protocol.decompression-bomb", signatureId: 200607,
                           signature: "decompression stopped at its limit: \(name)\(suffix)",
                           category: .protocol, severity: sev, evidence: evidence)
        }
        switch name {
        case "tcp.overlap_conflict":
            guard let sev = policy.overlapConflict else { return nil }
            return Finding(rule: "protocol.tcp-overlap-conflict", signatureId: 200608,
                           signature: "overlapping TCP segments with different bytes (first wins): the endpoint may have read other bytes than the sensor",
                           category: .protocol, severity: sev, evidence: evidence)
        case "tcp.pending_limit":
            guard let sev = policy.reassemblyLimit else { return nil }
            return Finding(rule: "protocol.reassembly-limit", signatureId: 200609,
                           signature: "out-of-order data held beyond the reassembly limit: a hole was given up as a gap\(suffix)",
                           category: .protocol, severity: sev, evidence: evidence)
        case "flow.evicted":
            guard let sev = policy.flowTableFull else { return nil }
            return Finding(rule: "protocol.flow-table-full", signatureId: 200610,
                           signature: "flow table full: least recently active flows evicted\(suffix)",
                           category: .protocol, severity: sev, evidence: evidence)
        case "app.buffer_budget_shed":
            guard let sev = policy.bufferBudgetFull else { return nil }
            return Finding(rule: "protocol.buffer-budget-full", signatureId: 200613,
                           signature: "application-layer buffers at their total limit: connections no longer read\(suffix)",
                           category: .protocol, severity: sev, evidence: evidence)
        case "tcp.ttl_changed":
            guard let sev = policy.ttlInconsistent else { return nil }
            return Finding(rule: "protocol.ttl-inconsistent", signatureId: 200611,
                           signature: "IP TTL changed within one direction of a TCP connection\(suffix): packets may not all reach the endpoint",
                           category: .protocol, severity: sev, evidence: evidence)
        case "tcp.urgent_byte_removed":
            guard let sev = policy.urgentData else { return nil }
            return Finding(rule: "protocol.tcp-urgent-data", signatureId: 200612,
                           signature: "TCP urgent data: the marked byte was taken out of the stream, as the endpoint does",
                           category: .protocol, severity: sev, evidence: evidence)
        default:
            return nil
        }
    }

    // MARK: - budgets

    private func budgets(_ e: MCPEvent, _ report: (Finding) -> Void) {
        guard let sev = policy.budgetSeverity else { return }
        if e.kind == .request, e.method == "tools/call", e.direction == .toServer {
            let client = e.source.address
            // The table's size first: looked up twice a call only when it is full.
            if clientCalls.count >= maxTrackedKeys && clientCalls[client] == nil { clientCalls.removeAll() }
            if clientCalls[client, default: RateWindow()].add(e.timestamp, limit: policy.callsPerMinutePerClient) {
                report(Finding(rule: "budget.client-call-rate", signatureId: 200801,
                               signature: "client \(client) made more than \(policy.callsPerMinutePerClient) tool calls in a minute",
                               category: .method, severity: sev))
            }
            let key = ToolKey(server: e.serverKey, tool: e.tool ?? "")
            if toolCalls.count >= maxTrackedKeys && toolCalls[key] == nil { toolCalls.removeAll() }
            if toolCalls[key, default: RateWindow()].add(e.timestamp, limit: policy.callsPerMinutePerTool) {
                report(Finding(rule: "budget.tool-call-rate", signatureId: 200802,
                               signature: "tool '\(e.tool ?? "")' called more than \(policy.callsPerMinutePerTool) times in a minute",
                               category: .method, severity: sev))
            }
        }
        if e.kind == .response, e.method == "tools/call" || e.method == "resources/read", e.size > policy.maxResponseBytes {
            report(Finding(rule: "budget.response-size", signatureId: 200803,
                           signature: "\(e.method ?? "") result of \(e.size) bytes exceeds the \(policy.maxResponseBytes)-byte budget",
                           category: .method, severity: sev))
        }
    }

    private func idText(_ id: JSONRPCID?) -> String {
        switch id {
        case .number(let n)?: return n
        case .string(let s)?: return s
        case nil: return ""
        }
    }

    /// Evidence for what is not a secret (a method, an id): shown as is, hashed all the same.
    func textEvidence(_ text: String, path: String) -> Evidence {
        Evidence(redacted: String(text.prefix(200)), sha256: Redaction.sha256Hex(text.utf8), path: path)
    }
}

/// Event times in the last 60 s, bounded by the limit: reports once when the limit is crossed,
/// and again only after the rate fell back under it.
struct RateWindow {
    private var times: [Int64] = []
    private var head = 0
    private var over = false

    /// Adds one event; true the moment the count in the window first exceeds `limit`.
    mutating func add(_ t: Timestamp, limit: Int) -> Bool {
        let now = t.microseconds
        while head < times.count && t.microseconds(since: Timestamp(microseconds: times[head])) >= 60_000_000 { head += 1 }
        if head > 1024 && head * 2 > times.count { times.removeFirst(head); head = 0 }
        times.append(now)
        // Keep no more than one over the limit: that is all the check needs.
        if times.count - head > limit &+ 1 { head += 1 }
        let count = times.count - head
        if count > limit {
            if !over { over = true; return true }
        } else {
            over = false
        }
        return false
    }
}
