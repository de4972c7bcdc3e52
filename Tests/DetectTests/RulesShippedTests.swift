import Foundation
import Testing
import SonarMCP
@testable import SonarDetect

// The default rules in rules/sigma, loaded from the files that ship.

/// `rules/` of this checkout.
let rulesRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("rules").path

@Suite struct RulesShippedTests {
    let set: RuleSet

    init() throws {
        set = try RuleSet.load(path: rulesRoot + "/sigma")
    }

    func hits(_ m: MessageFields?) -> [Int] {
        guard let m else { return [-1] }
        return set.evaluate(m).map(\.signatureId)
    }

    @Test func theShippedSetLoads() throws {
        #expect(set.rules.map(\.signatureId) == [200002, 200004, 200003, 200006])
        #expect(set.rules.map { URL(fileURLWithPath: $0.file).lastPathComponent } == [
            "mcp_elicitation_secret_fields.yml", "mcp_resources_read_sensitive_file.yml", 
            "mcp_tools_call_shell.yml", "mcp_url_elicitation_required.yml",
        ])
        #expect(set.rules.map(\.severity) == [2, 1, 3, 3])
        #expect(set.rules.map(\.category) == [.method, .sensitivePath, .method, .method])
        #expect(set.rules.allSatisfy { $0.line == 1 && $0.status == .experimental && $0.isEvaluated })
        // The rules root loads the same rules: only its sigma/ folder is read.
        let root = try RuleSet.load(path: rulesRoot)
        #expect(root.rules.map(\.id) == set.rules.map(\.id))
    }

    @Test func elicitationOfSecrets() {
        let asksPassword = #"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"message":"Log in","requestedSchema":{"type":"object","properties":{"username":{"type":"string"},"Password":{"type":"string"}}}}}"#
        #expect(hits(messageFields(asksPassword)) == [200002])
        let asksToken = #"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"message":"Connect","requestedSchema":{"type":"object","properties":{"github_token":{"type":"string"}}}}}"#
        #expect(hits(messageFields(asksToken)) == [200002])
        let benign = #"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"message":"Which city?","requestedSchema":{"type":"object","properties":{"city":{"type":"string","description":"no password needed"},"tokens_per_answer":{"type":"number"}}}}}"#
        #expect(hits(messageFields(benign)) == [])
        let urlMode = #"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"mode":"url","message":"Authorise","url":"https://auth.example/password","elicitationId":"e1"}}"#
        #expect(hits(messageFields(urlMode)) == [])
    }

    @Test func shellTools() {
        for tool in ["exec", "Bash", "run_command", "execute", "shell_exec", "execute_command", "run_shell"] {
            #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"\#(tool)","arguments":{"cmd":"id"}}}"#)) == [200003], "\(tool)")
        }
        for tool in ["add", "execute_sql", "count_slowly", "explode", "search"] {
            #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"\#(tool)","arguments":{}}}"#)) == [], "\(tool)")
        }
        // The result of a shell tool call is not a second alert.
        #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":4,"result":{"content":[]}}"#, method: "tools/call")) == [])
    }

    @Test func sensitiveFileReads() {
        for uri in ["file:///etc/shadow", "file:///root/.bash_history", "file:///home/dev/.ssh/id_ed25519", "FILE:///Users/me/.aws/credentials", "file:///var/run/secrets/kubernetes.io/serviceaccount/token"] {
            #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"\#(uri)"}}"#)) == [200004], "\(uri)")
        }
        for uri in ["file:///home/dev/project/README.md", "fixture://readme", "https://example.com/etc/passwd", "file:///srv/app/etc/config.yml"] {
            #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"\#(uri)"}}"#)) == [], "\(uri)")
        }
    }

    @Test func urlElicitationRequired() {
        #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":6,"error":{"code":-32042,"message":"This request requires more information.","data":{"elicitations":[{"mode":"url","url":"https://auth.example/connect"}]}}}"#, method: "tools/call")) == [200006])
        #expect(hits(messageFields(#"{"jsonrpc":"2.0","id":6,"error":{"code":-32601,"message":"Method not found"}}"#, method: "fixture/unknown")) == [])
    }

    /// The official Python SDK's fixture session (handshake, tools, resources, prompts, ping,
    /// errors), over loopback as recorded: none of the default rules fires.
    @Test func officialSDKSessionMatchesNothing() {
        let session: [(String, String?)] = [
            (#"{"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"mcp","version":"0.1.0"}},"jsonrpc":"2.0","id":0}"#, nil),
            (#"{"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-11-25","capabilities":{"experimental":{},"prompts":{"listChanged":false},"resources":{"subscribe":false,"listChanged":false},"tools":{"listChanged":false}},"serverInfo":{"name":"fixture-server","version":"1.26.0"},"instructions":"A fixture server for MCPSonar."}}"#, "initialize"),
            (#"{"method":"notifications/initialized","jsonrpc":"2.0"}"#, nil),
            (#"{"method":"logging/setLevel","params":{"level":"info"},"jsonrpc":"2.0","id":1}"#, nil),
            (#"{"method":"tools/list","jsonrpc":"2.0","id":2}"#, nil),
            (#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add","description":"Add two integers.","inputSchema":{"properties":{"a":{"title":"A","type":"integer"},"b":{"title":"B","type":"integer"}},"required":["a","b"],"title":"addArguments","type":"object"}},{"name":"count_slowly","description":"Count to n, logging and reporting progress.","inputSchema":{"properties":{"n":{"title":"N","type":"integer"}},"required":["n"],"type":"object"}},{"name":"explode","description":"Always fails.","inputSchema":{"properties":{"reason":{"type":"string"}},"type":"object"}}]}}"#, "tools/list"),
            (#"{"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}},"jsonrpc":"2.0","id":3}"#, nil),
            (#"{"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"text","text":"42"}],"structuredContent":{"result":42},"isError":false}}"#, "tools/call"),
            (#"{"method":"notifications/progress","params":{"progressToken":4,"progress":1.0,"total":3.0},"jsonrpc":"2.0"}"#, nil),
            (#"{"method":"notifications/message","params":{"level":"info","data":"step 1"},"jsonrpc":"2.0"}"#, nil),
            (#"{"method":"tools/call","params":{"name":"explode","arguments":{"reason":"boom"}},"jsonrpc":"2.0","id":5}"#, nil),
            (#"{"jsonrpc":"2.0","id":5,"result":{"content":[{"type":"text","text":"Error executing tool explode: boom"}],"isError":true}}"#, "tools/call"),
            (#"{"method":"fixture/unknown","jsonrpc":"2.0","id":7}"#, nil),
            (#"{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"Method not found"}}"#, "fixture/unknown"),
            (#"{"method":"resources/list","jsonrpc":"2.0","id":8}"#, nil),
            (#"{"method":"resources/read","params":{"uri":"fixture://readme"},"jsonrpc":"2.0","id":9}"#, nil),
            (#"{"jsonrpc":"2.0","id":9,"result":{"contents":[{"uri":"fixture://readme","mimeType":"text/plain","text":"Read me."}]}}"#, "resources/read"),
            (#"{"method":"resources/read","params":{"uri":"fixture://config.json"},"jsonrpc":"2.0","id":10}"#, nil),
            (#"{"method":"prompts/get","params":{"name":"greet","arguments":{"name":"Ada","style":"formal"}},"jsonrpc":"2.0","id":12}"#, nil),
            (#"{"method":"ping","jsonrpc":"2.0","id":13}"#, nil),
            (#"{"jsonrpc":"2.0","id":13,"result":{}}"#, "ping"),
        ]
        for (json, method) in session {
            let isResponse = json.contains(#""result""#) || json.contains(#""error""#)
            let m = messageFields(json, method: method, src: "127.0.0.1", srcPort: isResponse ? 8000 : 50000,
                                  headers: isResponse ? nil : [("Accept", "application/json, text/event-stream")])
            #expect(hits(m) == [], "\(json)")
        }
    }

    @Test func deprecatedRulesLoadButDoNotRun() throws {
        let yaml = ruleYAML("sel:\n  mcp.method: ping\ncondition: sel").replacingOccurrences(of: "level: low", with: "level: low\nstatus: deprecated")
        let set = try RuleSet.load(yaml: yaml, file: "d.yml")
        let f = fields(["mcp.method": .string("ping")])
        #expect(set.rules.count == 1)
        #expect(set.rules[0].matches(f))
        #expect(set.evaluate(f).isEmpty)
    }

    @Test func findingFromRule() throws {
        let r = try #require(set.rules.first { $0.signatureId == 200004 })
        #expect(Finding(rule: r) == Finding(rule: "3c1f6a52-8e0d-4b7a-9f41-6d2e5a7b1c04", signatureId: 200004,
                                            signature: "resources/read of a sensitive file outside project paths (/etc, /root, .ssh, cloud credentials)",
                                            category: .sensitivePath, severity: 1))
        #expect(Finding(rule: r, signature: "custom").signature == "custom")
    }

    @Test func rootWithDetectorConfigurationReadsOnlySigma() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-root-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir + "/sigma/more", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "patterns:\n  - id: aws\n    prefix: AKIA\n".write(toFile: dir + "/secrets.yml", atomically: true, encoding: .utf8)
        try ruleYAML("sel:\n  mcp.method: ping\ncondition: sel", id: "b", signatureId: 2).write(toFile: dir + "/sigma/more/b.yml", atomically: true, encoding: .utf8)
        try ruleYAML("sel:\n  mcp.method: ping\ncondition: sel", id: "a", signatureId: 1).write(toFile: dir + "/sigma/a.yaml", atomically: true, encoding: .utf8)
        try "title: [broken".write(toFile: dir + "/sigma/.hidden.yml", atomically: true, encoding: .utf8)
        let set = try RuleSet.load(path: dir)
        #expect(set.rules.map(\.id) == ["a", "b"])
        #expect(set.rules.map(\.file) == [dir + "/sigma/a.yaml", dir + "/sigma/more/b.yml"])
        #expect(set.evaluate(fields(["mcp.method": .string("PING")])).map(\.id) == ["a", "b"])
    }
}
