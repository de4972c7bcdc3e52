import Testing
import SonarCore
import SonarMCP
@testable import SonarDetect

/// Sends a client's messages to a server through a tracker to `engine`, each in an exchange of
/// its own, and gives their findings.
private final class ClientToEngine {
    let engine: DetectionEngine
    let tracker = MCPTracker()
    private var id = 0
    init(_ engine: DetectionEngine) { self.engine = engine }

    /// The findings of the message `json` writes with the next id.
    func findings(_ json: (Int) -> String) -> [Finding] {
        id += 1
        let p = MCPPayload(time: Timestamp(microseconds: Int64(id) * 1000), flowId: 1,
                           client: Endpoint(address: .v4(0x7F00_0001), port: 40000),
                           server: Endpoint(address: .v4(0x7F00_0001), port: 8000), direction: .toServer,
                           transport: .http, appProto: "http", exchange: id,
                           http: HTTPContext(method: "POST", url: "/mcp"), bytes: Array(json(id).utf8))
        var out: [Finding] = []
        tracker.process(p) { (event: MCPEvent, view: MCPMessageView) in
            out += engine.inspect(event, view: view, headers: nil).findings
        }
        return out
    }
}

/// Through the engine: a token twice in one value is one finding, two tokens in one value are
/// two (another digest), and a message with more findings than the set compares one by one
/// keeps each, in order.
@Test func aMessageRaisesEachFindingOnce() throws {
    let client = ClientToEngine(DetectionEngine(config: try DetectionConfig.load(root: SecretRules.root + "/rules")))
    func findings(_ arguments: [String]) -> [Finding] {
        let args = arguments.enumerated().map { #""a\#($0.offset)":"\#($0.element)""# }.joined(separator: ",")
        return client.findings { id in #"{"jsonrpc":"2.0","id":\#(id),"method":"tools/call","params":{"name":"t","arguments":{\#(args)}}}"# }
    }
    func secretPaths(_ f: [Finding]) -> [String] {
        f.filter { $0.category == .secret }.compactMap { $0.evidence?.path }
    }
    let tokens = (0..<24).map { Fake.github("ghp_", seed: UInt64($0) + 1) }
    // One token: one finding; the same token twice in one value: still one.
    #expect(secretPaths(findings([tokens[0]])) == ["/params/arguments/a0"])
    #expect(secretPaths(findings(["\(tokens[0]) and \(tokens[0])"])) == ["/params/arguments/a0"])
    // Two different tokens in one value: two findings (another digest).
    #expect(secretPaths(findings(["\(tokens[0]) and \(tokens[1])"])).count == 2)
    // Twenty-four values, each with its token twice: one finding each, in order.
    let many = findings(tokens.map { "\($0) then \($0)" })
    #expect(secretPaths(many) == (0..<24).map { "/params/arguments/a\($0)" })
    let identities = many.map { "\($0.rule)|\($0.evidence?.path ?? "")|\($0.evidence?.sha256 ?? "")" }
    #expect(Set(identities).count == identities.count)
}

/// The set itself: a finding with the rule, evidence path and digest of one held is dropped,
/// one differing in any of them is kept, no evidence counts as empty text, and the same holds
/// past the count where it stops comparing findings one by one.
@Test func findingSetKeepsEachIdentityOnce() {
    func finding(_ rule: String, _ path: String?, _ sha: String = "d") -> Finding {
        Finding(rule: rule, signatureId: 1, signature: "s", category: .secret, severity: 2,
                evidence: path.map { Evidence(redacted: "r", sha256: sha, path: $0) })
    }
    var set = FindingSet()
    set.add(finding("a", "/x"))
    set.add(finding("a", "/x"))
    set.add(finding("a", "/y"))
    set.add(finding("b", "/x"))
    set.add(finding("a", "/x", "e"))
    set.add(finding("c", nil))
    set.add(finding("c", "", ""))
    #expect(set.findings.map { "\($0.rule)\($0.evidence?.path ?? "-")\($0.evidence?.sha256 ?? "-")" }
            == ["a/xd", "a/yd", "b/xd", "a/xe", "c--"])
    for i in 0..<40 {
        set.add(finding("r", "/p\(i % 20)"))
        set.add(finding("r", "/p\(i % 20)", "other"))
    }
    set.add(finding("c", "", ""))
    set.add(finding("a", "/x"))
    #expect(set.findings.count == 5 + 40)
    #expect(Set(set.findings.map { "\($0.rule)|\($0.evidence?.path ?? "")|\($0.evidence?.sha256 ?? "")" }).count == 45)
}

/// The rules a method and kind pass the gates of are kept per method and kind: a message
/// gets its rules' verdicts whatever came before it — the same method with another kind, more
/// methods than the table has slots, a method too long to keep, and rules reloaded. With the
/// default caches, and with one slot per kind that every method shares.
@Test(arguments: [64, 1]) func keptRuleGatesGiveEachMessageItsRules(slots: Int) throws {
    let engine = DetectionEngine(config: try DetectionConfig.load(root: SecretRules.root + "/rules"), gateSlots: slots)
    let client = ClientToEngine(engine)
    func signatureIds(_ method: String, request: Bool = true, tool: String = "bash") -> [Int] {
        client.findings { id in
            request
                ? #"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":{"name":"\#(tool)","arguments":{}}}"#
                : #"{"jsonrpc":"2.0","method":"\#(method)","params":{"name":"\#(tool)","arguments":{}}}"#
        }.map(\.signatureId)
    }
    let shell = 200003 // rules/sigma/mcp_tools_call_shell.yml: a tools/call request of a shell tool
    // More methods than slots first, so that every slot holds another method's rules (none)
    // when tools/call comes; again, then tools/call as a notification (not a request: no alert)
    // followed by a request.
    for i in 0..<300 { #expect(!signatureIds("x/\(i)").contains(shell)) }
    #expect(signatureIds("tools/call").contains(shell))
    for i in 0..<300 { #expect(!signatureIds("x/\(i)").contains(shell)) }
    #expect(!signatureIds("tools/call", request: false).contains(shell))
    #expect(signatureIds("tools/call").contains(shell))
    #expect(!signatureIds("tools/call", tool: "add").contains(shell))
    #expect(signatureIds("tools/call").contains(shell))
    let long = String(repeating: "t", count: DetectionEngine.maxGateMethodBytes + 1)
    #expect(!signatureIds(long).contains(shell))
    #expect(signatureIds("tools/call").contains(shell))
    // Reloaded without the shell rule: its kept gates go with the old rules.
    engine.reload(try DetectionConfig.load(root: SecretRules.root + "/rules",
                                           sigma: SecretRules.root + "/rules/sigma/mcp_url_elicitation_required.yml"))
    #expect(!signatureIds("tools/call").contains(shell))
}
