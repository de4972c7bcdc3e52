import Testing
import SonarMCP
@testable import SonarDetect

// What evaluating the shipped rules costs per message. Prints nanoseconds per message; the
// expectation only guards against a pathological slowdown (debug builds are much slower).

@Suite struct RulesBenchmarkTests {
    @Test func costPerMessage() throws {
        let set = try RuleSet.load(path: rulesRoot + "/sigma")
        let cases: [(String, MessageFields?)] = [
            ("tools/call add (typical)", messageFields(#"{"method":"tools/call","params":{"name":"add","arguments":{"a":2,"b":40}},"jsonrpc":"2.0","id":3}"#)),
            ("tools/list result, 3 tools", messageFields(#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add","description":"Add two integers.","inputSchema":{"type":"object"}},{"name":"count_slowly","description":"Count.","inputSchema":{"type":"object"}},{"name":"explode","description":"Fails.","inputSchema":{"type":"object"}}]}}"#, method: "tools/list")),
            ("initialize from a remote client", messageFields(#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"c","version":"1"}}}"#, src: "192.168.1.20")),
            ("resources/read of ~/.ssh", messageFields(#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///home/dev/.ssh/id_ed25519"}}"#)),
            ("elicitation/create with a password", messageFields(#"{"jsonrpc":"2.0","id":1,"method":"elicitation/create","params":{"message":"Log in","requestedSchema":{"type":"object","properties":{"username":{"type":"string"},"password":{"type":"string"}}}}}"#)),
        ]
        let rounds = 20_000
        let clock = ContinuousClock()
        for (name, m) in cases {
            let fields = try #require(m)
            var hits = 0
            // Best of five: the machine is shared, the minimum is the cost.
            var best = Double.infinity
            for _ in 0..<5 {
                let elapsed = clock.measure {
                    for _ in 0..<rounds { hits &+= set.evaluate(fields).count }
                }
                let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
                best = min(best, ns / Double(rounds))
            }
            print("rules benchmark: \(name): \(Int(best)) ns/message, \(set.rules.count) rules, \(hits / rounds / 5) hit(s)")
            #expect(best < 1_000_000)
        }
    }

    /// `re` (Swift Regex) against the equivalent `startswith`, one rule each, on one field.
    @Test func regexCostAgainstStartswith() throws {
        let re = try rule(#"sel:\n  mcp.params.uri|re: '^file:///(etc|root)/'\ncondition: sel"#.replacingOccurrences(of: "\\n", with: "\n"))
        let sw = try rule("sel:\n  mcp.params.uri|startswith: ['file:///etc/', 'file:///root/']\ncondition: sel")
        let m = try #require(messageFields(#"{"jsonrpc":"2.0","id":5,"method":"resources/read","params":{"uri":"file:///home/dev/project/src/main.swift"}}"#))
        let clock = ContinuousClock()
        for (name, r) in [("re", re), ("startswith", sw)] {
            var best = Double.infinity
            var hits = 0
            for _ in 0..<5 {
                let elapsed = clock.measure { for _ in 0..<20_000 where r.matches(m) { hits += 1 } }
                let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
                best = min(best, ns / 20_000)
            }
            print("rules benchmark: one \(name) rule on mcp.params.uri: \(Int(best)) ns/message")
            #expect(hits == 0)
        }
    }
}
