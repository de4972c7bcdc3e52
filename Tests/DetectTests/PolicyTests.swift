import Testing
import SonarCore
import SonarProtocols
@testable import SonarMCP
@testable import SonarDetect


private func event(_ method: String?, kind: JSONRPCKind = .request, direction: Direction = .toServer,
                   version: String? = "2025-11-25", tool: String? = nil, id: JSONRPCID? = .number("1"),
                   time: Int64 = 0, size: Int = 100) -> MCPEvent {
    let c = Endpoint(address: .v4(0x0A00_0001), port: 40000), s = Endpoint(address: .v4(0x7F00_0001), port: 8000)
    var e = MCPEvent(timestamp: Timestamp(microseconds: time), flowId: 1, source: direction == .toServer ? c : s,
                     destination: direction == .toServer ? s : c, appProto: "http", transport: .http, kind: kind,
                     id: kind == .notification ? nil : id, method: method, tool: tool, sessionId: nil,
                     protocolVersion: version, paramsSHA256: nil, size: size, latencyMicroseconds: nil,
                     errorCode: nil, http: nil, message: nil)
    e.direction = direction
    e.serverKey = "127.0.0.1:8000/mcp"
    return e
}

private func findings(_ d: PolicyDetectors, _ e: MCPEvent) -> [String] {
    var out: [String] = []
    d.inspect(e) { out.append("\($0.rule) \($0.severity)") }
    return out
}

@Test func shippedCatalogueAndPolicyLoad() throws {
    let c = try MethodCatalogue.load(path: rulesRoot + "/methods.yml")
    #expect(c.versions == ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"])
    #expect(c.methods.count == 34)
    #expect(c.methods["initialize"]?.until == 3)
    #expect(c.methods["server/discover"]?.since == 4)
    #expect(try Policy.load(path: rulesRoot + "/policy.yml") == Policy())
}

@Test func methodPolicy() throws {
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: Policy())
    #expect(findings(d, event("tools/list")).isEmpty)
    #expect(findings(d, event("notifications/initialized", kind: .notification)).isEmpty)
    #expect(findings(d, event("fixture/unknown")) == ["method.unknown 2"])
    #expect(findings(d, event("tools/call", direction: .toClient, tool: "x")) == ["method.wrong-direction 1"])
    #expect(findings(d, event("sampling/createMessage", direction: .toServer)) == ["method.wrong-direction 1"])
    #expect(findings(d, event("sampling/createMessage", direction: .toClient)) == ["method.server-sampling 3"])
    #expect(findings(d, event("elicitation/create", direction: .toClient)) == ["method.server-elicitation 3"])
    #expect(findings(d, event("initialize", version: "2026-07-28")) == ["method.wrong-version 3"])
    #expect(findings(d, event("server/discover", version: "2026-07-28")).isEmpty)
    #expect(findings(d, event("elicitation/create", direction: .toClient, version: "2025-03-26")) == ["method.wrong-version 3", "method.server-elicitation 3"])
    // Unknown versions are not judged.
    #expect(findings(d, event("initialize", version: "2099-01-01")).isEmpty)
    d.toolListed = { server, tool in server == "127.0.0.1:8000/mcp" ? tool == "add" : nil }
    #expect(findings(d, event("tools/call", tool: "add")).isEmpty)
    #expect(findings(d, event("tools/call", tool: "rm_rf")) == ["method.unlisted-tool 2"])
}

@Test func protocolAnomalies() throws {
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: Policy())
    var e = event("tools/call", tool: "add")
    e.headerMismatch = ["mcp-method", "mcp-name"]
    #expect(findings(d, e) == ["protocol.header-mismatch 2", "protocol.header-mismatch 2"])
    #expect(findings(d, event(nil, kind: .response, direction: .toClient)) == ["protocol.unknown-response-id 3"])
    #expect(findings(d, event("tools/list", kind: .response, direction: .toClient)).isEmpty)
    var dup = event("ping")
    dup.duplicateRequestId = true
    #expect(findings(d, dup) == ["protocol.duplicate-request-id 3"])
}

@Test func budgetsReportOncePerBreach() throws {
    var p = Policy()
    p.callsPerMinutePerClient = 5
    p.callsPerMinutePerTool = 3
    p.maxResponseBytes = 1000
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: p)
    var all: [String] = []
    for i in 0..<10 { all += findings(d, event("tools/call", tool: i % 2 == 0 ? "a" : "b", time: Int64(i) * 1_000_000)) }
    #expect(all == ["budget.client-call-rate 3", "budget.tool-call-rate 3", "budget.tool-call-rate 3"])
    // A minute later the window is empty again.
    #expect(findings(d, event("tools/call", tool: "a", time: 200_000_000)).isEmpty)
    #expect(findings(d, event("tools/call", kind: .response, direction: .toClient, size: 1001)) == ["budget.response-size 3"])
    #expect(findings(d, event("tools/call", kind: .response, direction: .toClient, size: 1000)).isEmpty)
}

@Test func toolBudgetsAreKeptPerServerAndTool() throws {
    var p = Policy()
    p.callsPerMinutePerTool = 2
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: p)
    d.toolListed = { _, _ in true }
    // Server "s a" with tool "b", server "s" with tool "a b": the same text joined with a space,
    // two different tools, two windows (two calls each stay within the budget of two).
    var all: [String] = []
    for (server, tool) in [("s a", "b"), ("s", "a b"), ("s a", "b"), ("s", "a b")] {
        var e = event("tools/call", tool: tool)
        e.serverKey = server
        all += findings(d, e)
    }
    #expect(all.isEmpty)
    var third = event("tools/call", tool: "b")
    third.serverKey = "s a"
    #expect(findings(d, third) == ["budget.tool-call-rate 3"])
}

@Test func aNewCatalogueIsReadAfterReconfiguring() throws {
    let shipped = try MethodCatalogue.load(path: rulesRoot + "/methods.yml")
    let d = PolicyDetectors(catalogue: shipped, policy: Policy())
    #expect(findings(d, event("fixture/custom", version: "2030-01-01")) == ["method.unknown 2"])
    #expect(findings(d, event("tools/list", version: "2030-01-01")).isEmpty)
    // The same method and version again, after a reload that knows them: what was looked up
    // in the old catalogue is not kept.
    let custom = try MethodCatalogue.load(yaml: """
        versions: ["2025-11-25", "2030-01-01"]
        methods:
          fixture/custom: {kind: request, from: client, since: "2030-01-01"}
          tools/list: {kind: request, from: client, since: "2025-11-25", until: "2025-11-25"}
        """, file: "custom.yml")
    d.reconfigure(catalogue: custom, policy: Policy())
    #expect(findings(d, event("fixture/custom", version: "2030-01-01")).isEmpty)
    #expect(findings(d, event("tools/list", version: "2030-01-01")) == ["method.wrong-version 3"])
}

@Test func policyErrorsNameFileLineAndReason() {
    #expect(throws: ConfigError(file: "p.yml", line: 2, column: 3, reason: "unknown key 'unknwn_method' in methods")) {
        try Policy.load(yaml: "methods:\n  unknwn_method: 2\n", file: "p.yml")
    }
    #expect(throws: ConfigError(file: "p.yml", line: 2, column: 18, reason: "wrong_version must be 1, 2, 3 or off")) {
        try Policy.load(yaml: "methods:\n  wrong_version: 7\n", file: "p.yml")
    }
    #expect((try? Policy.load(yaml: "methods:\n  wrong_version: off\n", file: "p.yml"))?.wrongVersion == nil)
    #expect(throws: ConfigError(file: "m.yml", line: 3, column: 44, reason: "unknown version '2030-01-01'")) {
        try MethodCatalogue.load(yaml: "versions: [\"2024-11-05\"]\nmethods:\n  ping: {kind: request, from: both, since: \"2030-01-01\"}\n", file: "m.yml")
    }
}

@Test func toolChangeShadowingAndPins() {
    let t = { (name: String, hash: String) in
        ToolDefinition(name: name, sha256: hash, description: nil, firstSeen: .zero, lastSeen: .zero)
    }
    let h1 = String(repeating: "a", count: 64), h2 = String(repeating: "b", count: 64)
    let pins = PinSet(servers: [.init(server: "10.0.0.1:80/mcp", name: "srv", tools: ["add": h1])])
    let d = ToolChangeDetector(policy: Policy(), pins: pins)
    var out: [String] = []
    let r: (Finding) -> Void = { out.append("\($0.rule) \($0.severity)") }
    d.observe(.added(server: "127.0.0.1:8000/mcp", tool: t("add", h1), initial: true), serverName: "srv", report: r)
    #expect(out.isEmpty) // pinned by name although at another address
    d.observe(.added(server: "127.0.0.1:8000/mcp", tool: t("search", h1), initial: true), serverName: "srv", report: r)
    #expect(out == ["tool-change.not-pinned 2"])
    out = []
    d.observe(.changed(server: "127.0.0.1:8000/mcp", tool: t("add", h2), firstSHA256: h1, members: ["description"]), serverName: "srv", report: r)
    #expect(out == ["tool-change.definition-changed 1", "tool-change.pin-mismatch 1"])
    out = []
    d.observe(.added(server: "127.0.0.1:9000/mcp", tool: t("add", h1), initial: false), serverName: "other", report: r)
    #expect(out == ["tool-change.tool-added 2", "tool-change.shadowing 2", "tool-change.not-pinned 2"])
    out = []
    d.observe(.removed(server: "127.0.0.1:8000/mcp", name: "search", time: .zero), serverName: "srv", report: r)
    #expect(out == ["tool-change.tool-removed 3"])
}

@Test func sensorAnomaliesMapToTheirRules() throws {
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: Policy())
    func rule(_ name: String) -> String {
        guard let f = d.sensorAnomaly(name, detail: "x 1") else { return "none" }
        #expect(f.category == .protocol)
        #expect(f.evidence?.redacted == name && f.evidence?.path == "connection")
        return "\(f.rule) \(f.signatureId) \(f.severity)"
    }
    for name in PolicyDetectors.limitBreaches { #expect(rule(name) == "protocol.limit-exceeded 200606 2", "\(name)") }
    for name in PolicyDetectors.decompressionBombs { #expect(rule(name) == "protocol.decompression-bomb 200607 2", "\(name)") }
    #expect(PolicyDetectors.limitBreaches.count == 13)
    #expect(PolicyDetectors.decompressionBombs.count == 3)
    #expect(rule("tcp.overlap_conflict") == "protocol.tcp-overlap-conflict 200608 2")
    #expect(rule("tcp.pending_limit") == "protocol.reassembly-limit 200609 3")
    #expect(rule("flow.evicted") == "protocol.flow-table-full 200610 2")
    #expect(rule("tcp.ttl_changed") == "protocol.ttl-inconsistent 200611 3")
    #expect(rule("tcp.urgent_byte_removed") == "protocol.tcp-urgent-data 200612 3")
    #expect(rule("app.buffer_budget_shed") == "protocol.buffer-budget-full 200613 2")
    #expect(rule("http.bad_start_line") == "none")
    #expect(d.sensorAnomaly("http.header_too_large", detail: "http.max_header_bytes 65536")?.signature
            == "limit exceeded on an MCP connection: http.header_too_large (http.max_header_bytes 65536); the sensor skipped what was over it")
}

@Test func sensorAnomalyChecksCanBeTurnedOff() throws {
    let p = try Policy.load(yaml: """
        protocol:
          limit_exceeded: off
          decompression_bomb: 1
          overlap_conflict: off
          reassembly_limit: off
          flow_table_full: off
          buffer_budget_full: off
          ttl_inconsistent: off
          urgent_data: off
        """, file: "policy.yml")
    let d = PolicyDetectors(catalogue: try MethodCatalogue.load(path: rulesRoot + "/methods.yml"), policy: p)
    for name in ["http.body_too_large", "tcp.overlap_conflict", "tcp.pending_limit", "flow.evicted",
                 "app.buffer_budget_shed", "tcp.ttl_changed", "tcp.urgent_byte_removed"] {
        #expect(d.sensorAnomaly(name) == nil, "\(name)")
    }
    #expect(d.sensorAnomaly("websocket.decompression_bomb")?.severity == 1)
}

/// Exposure findings are once per server (or client and server), whatever the flows: the
/// memo of settled findings never hides a new pair, even one sharing its slot.
@Test func exposureOncePerPairAcrossFlowsAndSlots() {
    let monitor = ExposureMonitor(policy: EgressPolicy())
    let server = Endpoint(address: .v4(0xC0A8_C804), port: 8000)
    func send(flow: UInt64, client: UInt32, auth: Bool = false) -> [String] {
        let c = Endpoint(address: .v4(client), port: 40000)
        let e = MCPEvent(timestamp: Timestamp(microseconds: 0), flowId: flow, source: c, destination: server,
                         appProto: "http", transport: .http, kind: .notification, id: nil, method: "notifications/initialized",
                         tool: nil, sessionId: nil, protocolVersion: nil, paramsSHA256: nil, size: 10,
                         latencyMicroseconds: nil, errorCode: nil, http: nil, message: nil)
        let headers = HTTPHeaders(auth ? [(name: "Authorization", value: "Bearer x")] : [])
        var out: [String] = []
        monitor.inspect(e, headers: headers, carriesSecret: false) { out.append($0.rule) }
        return out
    }
    #expect(send(flow: 1, client: 0x0A00_0001) == ["exposure.served-beyond-loopback", "exposure.cleartext-session",
                                                   "exposure.no-authorization"])
    #expect(send(flow: 1, client: 0x0A00_0001).isEmpty)
    // Another client of the same server: a new cleartext pair.
    #expect(send(flow: 1025, client: 0x0A00_0002) == ["exposure.cleartext-session"])
    #expect(send(flow: 1, client: 0x0A00_0001, auth: true) == ["exposure.cleartext-credentials"])
    #expect(send(flow: 2, client: 0x0A00_0001, auth: true).isEmpty)
    #expect(send(flow: 1025, client: 0x0A00_0002, auth: true) == ["exposure.cleartext-credentials"])
    // Two pairs that share a slot of the memo: each still gets its own findings.
    let first = ExposureMonitor.slot(.v4(0x0A00_0003), server, count: ExposureMonitor.settledSlotCount)
    let twin = (4...UInt32(100_000)).first { ExposureMonitor.slot(.v4(0x0A00_0000 | $0), server, count: ExposureMonitor.settledSlotCount) == first }
    guard let twin else { Issue.record("no two clients share a slot"); return }
    #expect(send(flow: 3, client: 0x0A00_0003) == ["exposure.cleartext-session"])
    #expect(send(flow: 4, client: 0x0A00_0000 | twin) == ["exposure.cleartext-session"])
    #expect(send(flow: 5, client: 0x0A00_0003).isEmpty)
    #expect(send(flow: 6, client: 0x0A00_0000 | twin).isEmpty)
}

/// A server beyond loopback answering `initialize` is flagged only when the remote client sent
/// no Authorization: the header is looked up lazily, and only the request without it is held
/// for its answer (one finding per server).
@Test func unauthenticatedAnswerOnlyForRequestsWithoutAuthorization() {
    let monitor = ExposureMonitor(policy: EgressPolicy())
    let server = Endpoint(address: .v4(0xC0A8_C804), port: 8000)
    let client = Endpoint(address: .v4(0x0A00_0001), port: 40000)
    func exchange(flow: UInt64, auth: Bool) -> [String] {
        func event(_ kind: JSONRPCKind, _ direction: Direction) -> MCPEvent {
            var e = MCPEvent(timestamp: Timestamp(microseconds: 0), flowId: flow,
                             source: direction == .toServer ? client : server, destination: direction == .toServer ? server : client,
                             appProto: "http", transport: .http, kind: kind, id: .number("1"), method: "initialize",
                             tool: nil, sessionId: nil, protocolVersion: nil, paramsSHA256: nil, size: 10,
                             latencyMicroseconds: nil, errorCode: nil, http: nil, message: nil)
            e.direction = direction
            e.exchange = Int(flow) // the tracker's number, the same on the request and its answer
            return e
        }
        var out: [String] = []
        let headers = HTTPHeaders(auth ? [(name: "Authorization", value: "Bearer x")] : [])
        monitor.inspect(event(.request, .toServer), headers: headers, carriesSecret: false) { out.append($0.rule) }
        monitor.inspect(event(.response, .toClient), headers: nil, carriesSecret: false) { out.append($0.rule) }
        return out
    }
    // With Authorization: no finding about it, and its answer is not held against the server.
    #expect(exchange(flow: 1, auth: true) == ["exposure.served-beyond-loopback", "exposure.cleartext-session",
                                              "exposure.cleartext-credentials"])
    #expect(exchange(flow: 2, auth: false) == ["exposure.no-authorization", "exposure.unauthenticated-answer"])
    #expect(exchange(flow: 3, auth: false).isEmpty)
}

/// Every host seen serving MCP is an MCP server host, however the messages of many servers
/// interleave: the table of recent hosts (fewer slots than servers here) never hides a new one.
@Test func everyServerHostIsLearntWhateverTheOrder() {
    let monitor = EgressMonitor(policy: EgressPolicy())
    let client = Endpoint(address: .v4(0x0A00_0001), port: 40000)
    let servers: [IPAddress] = (0..<300).map { .v4(0xC0A8_0000 + UInt32($0)) }
        + (0..<300).map { .v6(0x2001_0DB8_0000_0000, UInt64($0)) }
    for round in 0..<2 {
        for (i, s) in servers.enumerated() {
            let toServer = (i + round) % 2 == 0
            let server = Endpoint(address: s, port: 8000)
            var e = MCPEvent(timestamp: Timestamp(microseconds: 0), flowId: UInt64(i), source: toServer ? client : server,
                             destination: toServer ? server : client, appProto: "http", transport: .http,
                             kind: .notification, id: nil, method: "notifications/progress", tool: nil, sessionId: nil,
                             protocolVersion: nil, paramsSHA256: nil, size: 10, latencyMicroseconds: nil,
                             errorCode: nil, http: nil, message: nil)
            e.direction = toServer ? .toServer : .toClient
            monitor.noteMCP(e)
        }
    }
    // As counts: a failure printing both sets of 600 addresses would be unreadable.
    #expect(Set(servers).subtracting(monitor.serverHosts).count == 0)
    #expect(monitor.serverHosts.count == servers.count)
}
