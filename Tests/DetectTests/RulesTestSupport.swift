import SonarCore
@testable import SonarMCP
import SonarProtocols
@testable import SonarDetect

/// A rule file around `detection` (indented by the caller's lines, two spaces added here).
/// Lines 1-7 are the header, so the first detection line is line 8.
func ruleYAML(_ detection: String, id: String = "r1", signatureId: Int = 1) -> String {
    """
    title: t
    id: \(id)
    level: low
    signature_id: \(signatureId)
    category: method
    logsource: {product: mcpsonar, category: mcp}
    detection:

    """ + detection.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
}

/// The one rule of a detection snippet.
func rule(_ detection: String) throws -> SigmaRule {
    let set = try RuleSet.load(yaml: ruleYAML(detection), file: "t.yml")
    guard let r = set.rules.first else { throw RuleLoadFailure(errors: []) }
    return r
}

/// The load errors of a whole YAML text, as `FILE:LINE:COLUMN: reason` lines.
func loadErrors(_ yaml: String, file: String = "t.yml") -> [String] {
    do {
        _ = try RuleSet.load(yaml: yaml, file: file)
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

func fields(_ pairs: [String: FieldValue]) -> StaticFields {
    StaticFields(pairs.mapValues { [$0] })
}

func address(_ text: String) -> IPAddress {
    guard let ip = IP128.parse(text[...]) else { return .v4(0) }
    return ip.isV4 ? .v4(UInt32(truncatingIfNeeded: ip.lo)) : .v6(ip.hi, ip.lo)
}

/// The fields of the first JSON-RPC message in `json` as the tracker would report it.
func messageFields(_ json: String, method: String? = nil, src: String = "127.0.0.1", srcPort: UInt16 = 50000,
                   dest: String = "127.0.0.1", destPort: UInt16 = 8000, transport: MCPTransport = .http,
                   headers: [(String, String)]? = [("Content-Type", "application/json")],
                   latencyMicroseconds: Int64? = nil, http: HTTPContext? = HTTPContext(method: "POST", url: "/mcp", host: "localhost:8000")) -> MessageFields? {
    var counters = Counters()
    guard let parsed = JSONRPC.parse(Array(json.utf8), limits: JSONLimits(), counters: &counters),
          let m = parsed.messages.first else { return nil }
    let d = parsed.document
    var tool: String?
    let effectiveMethod = m.method ?? method
    if effectiveMethod == "tools/call", let p = m.params, let name = d.member(p, "name") { tool = d.string(name) }
    let event = MCPEvent(timestamp: Timestamp(microseconds: 0), flowId: 1,
                         source: Endpoint(address: address(src), port: srcPort),
                         destination: Endpoint(address: address(dest), port: destPort),
                         appProto: "http", transport: transport, kind: m.kind, id: m.id, method: effectiveMethod,
                         tool: tool, sessionId: nil, protocolVersion: nil, paramsSHA256: nil, size: d.range(m.node).count,
                         latencyMicroseconds: latencyMicroseconds, errorCode: m.errorCode, http: http, message: nil)
    return MessageFields(event: event, view: MCPMessageView(document: d, message: m),
                         requestHeaders: headers.map { HTTPHeaders($0.map { (name: $0.0, value: $0.1) }) })
}
