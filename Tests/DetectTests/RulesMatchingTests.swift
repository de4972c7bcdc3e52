import Testing
@testable import SonarDetect

// Modifiers, wildcards, values: every one positive and negative, on fixed fields.

@Suite struct RulesMatchingTests {
    @Test func plainValueIsCaseInsensitiveEquality() throws {
        let r = try rule("sel:\n  mcp.method: Tools/Call\ncondition: sel")
        #expect(r.matches(fields(["mcp.method": .string("tools/call")])))
        #expect(r.matches(fields(["mcp.method": .string("TOOLS/CALL")])))
        #expect(!r.matches(fields(["mcp.method": .string("tools/calls")])))
        #expect(!r.matches(fields([:])))
    }

    @Test func nonASCIIValuesFoldCaseToo() throws {
        let r = try rule("sel:\n  mcp.tool|contains: ÉCRIRE\ncondition: sel")
        #expect(r.matches(fields(["mcp.tool": .string("fichier_écrire")])))
        #expect(!r.matches(fields(["mcp.tool": .string("fichier_ecrire")])))
    }

    @Test func listOfValuesIsOr() throws {
        let r = try rule("sel:\n  mcp.method: [initialize, tools/list]\ncondition: sel")
        #expect(r.matches(fields(["mcp.method": .string("tools/list")])))
        #expect(r.matches(fields(["mcp.method": .string("initialize")])))
        #expect(!r.matches(fields(["mcp.method": .string("tools/call")])))
    }

    @Test func mapIsAndOfFields() throws {
        let r = try rule("sel:\n  mcp.method: tools/call\n  mcp.kind: request\ncondition: sel")
        #expect(r.matches(fields(["mcp.method": .string("tools/call"), "mcp.kind": .string("request")])))
        #expect(!r.matches(fields(["mcp.method": .string("tools/call"), "mcp.kind": .string("response")])))
        #expect(!r.matches(fields(["mcp.method": .string("tools/call")])))
    }

    @Test func listOfMapsIsOr() throws {
        let r = try rule("sel:\n  - mcp.method: tools/call\n    mcp.tool: exec\n  - mcp.kind: error\ncondition: sel")
        #expect(r.matches(fields(["mcp.method": .string("tools/call"), "mcp.tool": .string("exec")])))
        #expect(r.matches(fields(["mcp.kind": .string("error")])))
        #expect(!r.matches(fields(["mcp.method": .string("tools/call"), "mcp.tool": .string("add")])))
        #expect(!r.matches(fields(["mcp.tool": .string("exec")])))
    }

    @Test func wildcards() throws {
        let star = try rule("sel:\n  mcp.tool: run*cmd\ncondition: sel")
        #expect(star.matches(fields(["mcp.tool": .string("runcmd")])))
        #expect(star.matches(fields(["mcp.tool": .string("RUN_shell_CMD")])))
        #expect(!star.matches(fields(["mcp.tool": .string("runcmd2")])))
        let one = try rule("sel:\n  mcp.tool: b?sh\ncondition: sel")
        #expect(one.matches(fields(["mcp.tool": .string("bash")])))
        #expect(one.matches(fields(["mcp.tool": .string("bösh")])))  // one character, two UTF-8 bytes
        #expect(!one.matches(fields(["mcp.tool": .string("bsh")])))
        #expect(!one.matches(fields(["mcp.tool": .string("baash")])))
        let glob = try rule("sel:\n  mcp.tool: '*a?c*x'\ncondition: sel")
        #expect(glob.matches(fields(["mcp.tool": .string("zzaacabcx")])))
        #expect(!glob.matches(fields(["mcp.tool": .string("zzaacabcxy")])))
        let any = try rule("sel:\n  mcp.tool: '*'\ncondition: sel")
        #expect(any.matches(fields(["mcp.tool": .string("")])))
        #expect(!any.matches(fields([:])))
    }

    @Test func escapedWildcardsAreLiteral() throws {
        let r = try rule(#"sel:\n  mcp.tool: 'a\*b\?c\\'\ncondition: sel"#.replacingOccurrences(of: "\\n", with: "\n"))
        #expect(r.matches(fields(["mcp.tool": .string(#"a*b?c\"#)])))
        #expect(!r.matches(fields(["mcp.tool": .string(#"axxb?c\"#)])))
        // A backslash before anything but `*`, `?`, `\` is itself; `\\*` is a backslash then a wildcard.
        let other = try rule(#"sel:\n  mcp.tool: 'C:\Windows\\*'\ncondition: sel"#.replacingOccurrences(of: "\\n", with: "\n"))
        #expect(other.matches(fields(["mcp.tool": .string(#"c:\windows\system32"#)])))
        let literalStar = try rule(#"sel:\n  mcp.tool: 'C:\Windows\*'\ncondition: sel"#.replacingOccurrences(of: "\\n", with: "\n"))
        #expect(literalStar.matches(fields(["mcp.tool": .string(#"c:\windows*"#)])))
        #expect(!literalStar.matches(fields(["mcp.tool": .string(#"c:\windows\system32"#)])))
    }

    @Test func contains() throws {
        let r = try rule("sel:\n  mcp.tool|contains: shell\ncondition: sel")
        #expect(r.matches(fields(["mcp.tool": .string("run_SHELL_command")])))
        #expect(r.matches(fields(["mcp.tool": .string("shell")])))
        #expect(!r.matches(fields(["mcp.tool": .string("shel")])))
    }

    @Test func startswithAndEndswith() throws {
        let s = try rule("sel:\n  mcp.params.uri|startswith: file:///etc/\ncondition: sel")
        #expect(s.matches(fields(["mcp.params.uri": .string("FILE:///etc/passwd")])))
        #expect(!s.matches(fields(["mcp.params.uri": .string("file:///home/etc/x")])))
        let e = try rule("sel:\n  mcp.tool|endswith: _exec\ncondition: sel")
        #expect(e.matches(fields(["mcp.tool": .string("shell_exec")])))
        #expect(!e.matches(fields(["mcp.tool": .string("exec_shell")])))
    }

    @Test func containsAll() throws {
        let r = try rule("sel:\n  mcp.params.text|contains|all: [ignore, previous]\ncondition: sel")
        #expect(r.matches(fields(["mcp.params.text": .string("Please ignore all previous instructions")])))
        #expect(!r.matches(fields(["mcp.params.text": .string("Please ignore this")])))
    }

    @Test func allOverSeveralValuesTakesEachFromAnyValue() throws {
        let r = try rule("sel:\n  mcp.result.tools[].name|all: [add, exec]\ncondition: sel")
        #expect(r.matches(StaticFields(["mcp.result.tools[].name": [.string("add"), .string("exec")]])))
        #expect(!r.matches(StaticFields(["mcp.result.tools[].name": [.string("add"), .string("sub")]])))
    }

    @Test func casedModifier() throws {
        let r = try rule("sel:\n  mcp.tool|contains|cased: Exec\ncondition: sel")
        #expect(r.matches(fields(["mcp.tool": .string("runExec")])))
        #expect(!r.matches(fields(["mcp.tool": .string("runexec")])))
    }

    @Test func regexIsCaseSensitiveSearch() throws {
        let r = try rule(#"sel:\n  mcp.params.uri|re: '^file:///(etc|root)/'\ncondition: sel"#.replacingOccurrences(of: "\\n", with: "\n"))
        #expect(r.matches(fields(["mcp.params.uri": .string("file:///etc/shadow")])))
        #expect(!r.matches(fields(["mcp.params.uri": .string("FILE:///etc/shadow")])))
        #expect(!r.matches(fields(["mcp.params.uri": .string("x file:///etc/shadow")])))
        let search = try rule("sel:\n  mcp.tool|re: ex.c\ncondition: sel")
        #expect(search.matches(fields(["mcp.tool": .string("shell_exec_now")])))
        let inline = try rule("sel:\n  mcp.tool|re: '(?i)^EXEC$'\ncondition: sel")
        #expect(inline.matches(fields(["mcp.tool": .string("exec")])))
        let flag = try rule("sel:\n  mcp.tool|re|i: '^EXEC$'\ncondition: sel")
        #expect(flag.matches(fields(["mcp.tool": .string("exec")])))
        #expect(!flag.matches(fields(["mcp.tool": .string("exec2")])))
    }

    @Test func cidrIPv4() throws {
        let r = try rule("sel:\n  src_ip|cidr: 10.0.0.0/8\ncondition: sel")
        #expect(r.matches(fields(["src_ip": .string("10.20.30.40")])))
        #expect(r.matches(fields(["src_ip": .string("::ffff:10.1.2.3")])))  // IPv4-mapped
        #expect(!r.matches(fields(["src_ip": .string("11.0.0.1")])))
        #expect(!r.matches(fields(["src_ip": .string("not an address")])))
        let host = try rule("sel:\n  src_ip|cidr: [192.168.1.7/32, 172.16.0.0/12]\ncondition: sel")
        #expect(host.matches(fields(["src_ip": .string("192.168.1.7")])))
        #expect(host.matches(fields(["src_ip": .string("172.31.255.255")])))
        #expect(!host.matches(fields(["src_ip": .string("192.168.1.8")])))
        #expect(!host.matches(fields(["src_ip": .string("172.32.0.0")])))
    }

    @Test func cidrIPv6() throws {
        let r = try rule("sel:\n  src_ip|cidr: ['::1/128', 'fd00::/8', '2001:db8:abcd::/48']\ncondition: sel")
        #expect(r.matches(fields(["src_ip": .string("::1")])))
        #expect(r.matches(fields(["src_ip": .string("fd12:3456::1")])))
        #expect(r.matches(fields(["src_ip": .string("2001:db8:abcd:12::5")])))
        #expect(!r.matches(fields(["src_ip": .string("2001:db8:abce::5")])))
        #expect(!r.matches(fields(["src_ip": .string("::2")])))
        #expect(!r.matches(fields(["src_ip": .string("127.0.0.1")])))
    }

    @Test func exists() throws {
        let yes = try rule("sel:\n  http.headers.authorization|exists: true\ncondition: sel")
        #expect(yes.matches(fields(["http.headers.authorization": .string("Bearer x")])))
        #expect(yes.matches(fields(["http.headers.authorization": .null])))
        #expect(!yes.matches(fields([:])))
        let no = try rule("sel:\n  http.headers.authorization|exists: false\ncondition: sel")
        #expect(no.matches(fields([:])))
        #expect(!no.matches(fields(["http.headers.authorization": .string("")])))
    }

    @Test func containersMatchOnlyExists() throws {
        let f = fields(["mcp.params.arguments": .container])
        #expect(try rule("sel:\n  mcp.params.arguments|exists: true\ncondition: sel").matches(f))
        #expect(!(try rule("sel:\n  mcp.params.arguments|contains: ''\ncondition: sel").matches(f)))
        #expect(!(try rule("sel:\n  mcp.params.arguments: '*'\ncondition: sel").matches(f)))
        #expect(!(try rule("sel:\n  mcp.params.arguments: null\ncondition: sel").matches(f)))
    }

    @Test func numericComparisons() throws {
        let gt = try rule("sel:\n  mcp.size|gt: 1000\ncondition: sel")
        #expect(gt.matches(fields(["mcp.size": .number("1001")])))
        #expect(!gt.matches(fields(["mcp.size": .number("1000")])))
        #expect(gt.matches(fields(["mcp.size": .number("1.5e3")])))
        #expect(gt.matches(fields(["mcp.size": .string("2000")])))
        #expect(!gt.matches(fields(["mcp.size": .string("big")])))
        let gte = try rule("sel:\n  mcp.size|gte: 1000\ncondition: sel")
        #expect(gte.matches(fields(["mcp.size": .number("1000")])))
        #expect(!gte.matches(fields(["mcp.size": .number("999.9")])))
        let lt = try rule("sel:\n  mcp.latency_ms|lt: 0.5\ncondition: sel")
        #expect(lt.matches(fields(["mcp.latency_ms": .number("0.499")])))
        #expect(!lt.matches(fields(["mcp.latency_ms": .number("0.500")])))
        let lte = try rule("sel:\n  mcp.error_code|lte: -32000\ncondition: sel")
        #expect(lte.matches(fields(["mcp.error_code": .number("-32000")])))
        #expect(lte.matches(fields(["mcp.error_code": .number("-32601")])))
        #expect(!lte.matches(fields(["mcp.error_code": .number("-31999")])))
        #expect(!lte.matches(fields([:])))
    }

    @Test func numberAndBoolValues() throws {
        let n = try rule("sel:\n  mcp.error_code: -32042\ncondition: sel")
        #expect(n.matches(fields(["mcp.error_code": .number("-32042")])))
        #expect(n.matches(fields(["mcp.error_code": .number("-32042.0")])))
        #expect(n.matches(fields(["mcp.error_code": .string("-32042")])))
        #expect(!n.matches(fields(["mcp.error_code": .number("-32043")])))
        let quoted = try rule("sel:\n  mcp.id: '7*'\ncondition: sel")
        #expect(quoted.matches(fields(["mcp.id": .number("72")])))
        let b = try rule("sel:\n  mcp.result.isError: true\ncondition: sel")
        #expect(b.matches(fields(["mcp.result.isError": .bool(true)])))
        #expect(b.matches(fields(["mcp.result.isError": .string("True")])))
        #expect(!b.matches(fields(["mcp.result.isError": .bool(false)])))
    }

    @Test func nullMatchesMissingOrNull() throws {
        let r = try rule("sel:\n  mcp.id: null\ncondition: sel")
        #expect(r.matches(fields([:])))
        #expect(r.matches(fields(["mcp.id": .null])))
        #expect(!r.matches(fields(["mcp.id": .number("1")])))
        let orValue = try rule("sel:\n  mcp.id: [null, abc]\ncondition: sel")
        #expect(orValue.matches(fields(["mcp.id": .string("ABC")])))
        #expect(orValue.matches(fields([:])))
        #expect(!orValue.matches(fields(["mcp.id": .string("abd")])))
        let empty = try rule("sel:\n  mcp.id: ''\ncondition: sel")
        #expect(empty.matches(fields(["mcp.id": .string("")])))
        #expect(!empty.matches(fields([:])))
    }

    @Test func base64AndOffsets() throws {
        // "cat /etc/passwd" in base64 is Y2F0IC9ldGMvcGFzc3dk.
        let b = try rule("sel:\n  mcp.params.data|base64|contains: /etc/passwd\ncondition: sel")
        #expect(Base64.encode(Array("/etc/passwd".utf8)) == "L2V0Yy9wYXNzd2Q=")
        #expect(b.matches(fields(["mcp.params.data": .string("xxL2V0Yy9wYXNzd2Q=yy")])))
        #expect(!b.matches(fields(["mcp.params.data": .string("Y2F0IC9ldGMvcGFzc3dk")])))
        let o = try rule("sel:\n  mcp.params.data|base64offset|contains: /etc/passwd\ncondition: sel")
        #expect(Base64.offsetVariants(Array("/etc/passwd".utf8)) == ["L2V0Yy9wYXNzd2", "9ldGMvcGFzc3dk", "vZXRjL3Bhc3N3Z"])
        #expect(o.matches(fields(["mcp.params.data": .string("Y2F0IC9ldGMvcGFzc3dk")])))  // "cat /etc/passwd"
        #expect(o.matches(fields(["mcp.params.data": .string("L2V0Yy9wYXNzd2Q=")])))
        #expect(!o.matches(fields(["mcp.params.data": .string("y2f0ic9ldgmvcgfzc3dk")])))  // base64 is case-sensitive
    }
}

@Suite struct RulesAddressTests {
    func ip(_ s: String) -> IP128? { IP128.parse(s[...]) }

    @Test func addressText() {
        #expect(ip("10.1.2.3") == IP128(hi: 0, lo: 0xFFFF_0A01_0203, isV4: true))
        #expect(ip("::") == IP128(hi: 0, lo: 0, isV4: false))
        #expect(ip("::1") == IP128(hi: 0, lo: 1, isV4: false))
        #expect(ip("1::") == IP128(hi: 0x0001_0000_0000_0000, lo: 0, isV4: false))
        #expect(ip("1:2:3:4:5:6:7:8") == IP128(hi: 0x0001_0002_0003_0004, lo: 0x0005_0006_0007_0008, isV4: false))
        #expect(ip("2001:DB8::a:b") == IP128(hi: 0x2001_0DB8_0000_0000, lo: 0x0000_0000_000A_000B, isV4: false))
        #expect(ip("::ffff:1.2.3.4") == IP128(hi: 0, lo: 0xFFFF_0102_0304, isV4: false))
        #expect(ip("[::1]") == ip("::1"))
        #expect(ip("fe80::1%eth0") == ip("fe80::1"))
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", "1:2:3:4:5:6:7:8:9", ":::", "1:::2", "1::2::3",
                    ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "12345::", "g::1", "1.2.3.4::", "::1.2.3"] {
            #expect(ip(bad) == nil, "\(bad)")
        }
    }

    @Test func cidrBlocks() {
        #expect(CIDRBlock("10.0.0.0/8")?.bits == 104)
        #expect(CIDRBlock("10.9.9.9/8")?.contains(text: "10.0.0.1") == true)  // host bits are masked
        #expect(CIDRBlock("0.0.0.0/0")?.contains(text: "203.0.113.9") == true)
        #expect(CIDRBlock("0.0.0.0/0")?.contains(text: "2001:db8::1") == false)
        #expect(CIDRBlock("::/0")?.contains(text: "2001:db8::1") == true)
        #expect(CIDRBlock("fe80::/10")?.contains(text: "febf::1") == true)
        #expect(CIDRBlock("fe80::/10")?.contains(text: "fec0::1") == false)
        #expect(CIDRBlock("192.0.2.1")?.contains(text: "192.0.2.1") == true)
        #expect(CIDRBlock("192.0.2.1")?.contains(text: "192.0.2.2") == false)
        for bad in ["10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8/8", "fe80::1%eth0/64", "x/8", "::/x"] {
            #expect(CIDRBlock(bad) == nil, "\(bad)")
        }
    }
}

/// The gates of `RuleSet.evaluate` never change an answer: every rule is gated or not as its
/// condition allows, and the set's answer is the rules' own `matches`, over methods and kinds in
/// any case, non-ASCII, numeric, absent and null; the engine's entry (method and kind at hand,
/// fields made on demand) answers the same.
@Test func ruleGatesAnswerAsTheConditions() throws {
    let detections = [
        "selection:\n  mcp.method: tools/call\ncondition: selection",
        "selection:\n  mcp.method: [Tools/Call, resources/read]\n  mcp.kind: request\ncondition: selection",
        "selection:\n  mcp.method: tools/call\nother:\n  mcp.tool: x\ncondition: selection and other",
        "selection:\n  mcp.method: tools/call\nother:\n  mcp.tool: x\ncondition: selection or other",
        "selection:\n  mcp.method: tools/call\ncondition: not selection",
        "selection:\n  mcp.method|startswith: tools/\ncondition: selection",
        "selection:\n  mcp.method|cased: tools/call\ncondition: selection",
        "selection:\n  mcp.method: null\ncondition: selection",
        "selection:\n  - mcp.method: tools/call\n  - mcp.tool: x\ncondition: selection",
        "selection:\n  mcp.method: \u{130}nit\ncondition: selection",
        "selection:\n  mcp.method: 7\ncondition: selection",
        "selection:\n  mcp.method|exists: false\ncondition: selection",
        "selection:\n  mcp.kind: error\n  mcp.error_code: -32042\ncondition: selection",
        "a:\n  mcp.kind: [Request, notification]\nb:\n  mcp.method: tools/call\ncondition: a and b",
        "selection:\n  mcp.kind|contains: quest\ncondition: selection",
    ]
    let set = try RuleSet.load(sources: detections.enumerated().map { i, d in
        (file: "r\(i).yml", yaml: ruleYAML(d, id: "r\(i)", signatureId: i + 1))
    })
    #expect(set.rules.count == detections.count)
    let gated: [[RuleGate.Field]] = [[.method], [.method, .kind], [.method], [], [], [], [], [], [], [.method], [], [],
                                     [.kind], [.kind, .method], []]
    #expect(set.rules.map { $0.detection.gates.map(\.field) } == gated)
    let methods: [FieldValue?] = [.string("tools/call"), .string("TOOLS/CALL"), .string("Tools/Call"), .string("resources/read"),
                                  .string("tools/callx"), .string("i\u{307}nit"), .string("\u{130}NIT"), .string("\u{130}nit"),
                                  .number("7"), .string("7"), .null, .container, nil]
    let kinds: [String?] = ["request", "REQUEST", "notification", "error", "response", nil]
    for m in methods {
        for kind in kinds {
            for tool: FieldValue? in [.string("x"), nil] {
                var f: [String: [FieldValue]] = ["mcp.error_code": [.number("-32042")]]
                if let kind { f["mcp.kind"] = [.string(kind)] }
                if let m { f["mcp.method"] = [m] }
                if let tool { f["mcp.tool"] = [tool] }
                let source = StaticFields(f)
                let expected = set.rules.filter { $0.matches(source) }.map(\.id)
                #expect(set.evaluate(source).map(\.id) == expected, "\(String(describing: m)) \(String(describing: kind))")
                // The engine's entry, where the method is a string or absent and the kind is present.
                if let kind, m == nil || { if case .string = m { true } else { false } }() {
                    var method: String?
                    if case .string(let s)? = m { method = s }
                    var made = 0
                    let answer = set.evaluate(method: method, kind: kind, fields: { made += 1; return source })
                    #expect(answer.map(\.id) == expected)
                    #expect(made <= 1)
                }
            }
        }
    }
}
