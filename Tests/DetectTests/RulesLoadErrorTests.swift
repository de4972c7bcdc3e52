import Foundation
import Testing
@testable import SonarDetect

// Refused rule files: each error with its exact file:line:column and reason.

@Suite struct RulesLoadErrorTests {
    /// The errors of a rule whose detection is `detection` (first detection line = line 8).
    func detectionErrors(_ detection: String) -> [String] { loadErrors(ruleYAML(detection)) }

    @Test func unknownModifier() {
        #expect(detectionErrors("sel:\n  mcp.tool|contain: x\ncondition: sel")
            == ["t.yml:9:14: unknown modifier 'contain'"])
        #expect(detectionErrors("sel:\n  mcp.tool|contains|windash: x\ncondition: sel")
            == ["t.yml:9:23: modifier 'windash' is not supported"])
        #expect(detectionErrors("sel:\n  'mcp.tool|bogus': x\ncondition: sel")
            == ["t.yml:9:15: unknown modifier 'bogus'"])
    }

    @Test func conflictingModifiers() {
        #expect(detectionErrors("sel:\n  mcp.tool|contains|startswith: x\ncondition: sel")
            == ["t.yml:9:23: modifiers 'contains' and 'startswith' cannot be combined"])
        #expect(detectionErrors("sel:\n  mcp.tool|i: x\ncondition: sel")
            == ["t.yml:9:14: modifier 'i' only follows 're'"])
        #expect(detectionErrors("sel:\n  src_ip|cidr|cased: 10.0.0.0/8\ncondition: sel")
            == ["t.yml:9:5: modifier 'cased' only applies to string matching"])
        #expect(detectionErrors("sel:\n  mcp.tool|base64offset: x\ncondition: sel")
            == ["t.yml:9:5: modifier 'base64offset' needs 'contains'"])
    }

    @Test func missingRequiredKeys() {
        let yaml = """
        title: t
        level: low
        logsource: {product: mcpsonar, category: mcp}
        detection:
          sel:
            mcp.tool: x
          condition: sel

        """
        #expect(loadErrors(yaml) == [
            "t.yml:1:1: missing 'id'",
            "t.yml:1:1: missing 'signature_id'",
            "t.yml:1:1: missing 'category'",
        ])
        let noDetection = "title: t\nid: a\nlevel: low\nsignature_id: 1\ncategory: method\nlogsource: {product: mcpsonar, category: mcp}\n"
        #expect(loadErrors(noDetection) == ["t.yml:1:1: missing 'detection'"])
        #expect(detectionErrors("sel:\n  mcp.tool: x") == ["t.yml:8:3: missing 'detection.condition'"])
        #expect(loadErrors("id: a\nsignature_id: 1\ncategory: method\nlevel: low\nlogsource: {product: mcpsonar, category: mcp}\ndetection: {s: {mcp.tool: x}, condition: s}\n")
            == ["t.yml:1:1: missing 'title'"])
    }

    @Test func conditionReferencingUnknownSelection() {
        #expect(detectionErrors("sel:\n  mcp.tool: x\ncondition: sel and not filter")
            == ["t.yml:10:26: condition references unknown selection 'filter'"])
        #expect(detectionErrors("sel:\n  mcp.tool: x\ncondition: 'sel or 1 of filter_*'")
            == ["t.yml:10:27: condition references unknown selection 'filter_*'"])
        #expect(detectionErrors("sel:\n  mcp.tool: x\ncondition: (sel")
            == ["t.yml:10:18: missing ')' for the '(' at offset 0"])
    }

    @Test func invalidCIDRAndRegex() {
        #expect(detectionErrors("sel:\n  src_ip|cidr:\n    - 10.0.0.0/8\n    - 10.0.0.0/33\ncondition: sel")
            == ["t.yml:11:9: invalid CIDR '10.0.0.0/33'"])
        #expect(detectionErrors("sel:\n  src_ip|cidr: '2001:db8::/129'\ncondition: sel")
            == ["t.yml:9:18: invalid CIDR '2001:db8::/129'"])
        #expect(detectionErrors("sel:\n  src_ip|cidr: 300.1.1.1/8\ncondition: sel")
            == ["t.yml:9:18: invalid CIDR '300.1.1.1/8'"])
        let re = detectionErrors("sel:\n  mcp.tool|re: 'a(b'\ncondition: sel")
        #expect(re == ["t.yml:9:18: invalid regular expression 'a(b': expected ')'"])
    }

    @Test func wrongTypes() {
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "signature_id: 1", with: "signature_id: abc"))
            == ["t.yml:4:15: 'signature_id' must be a positive integer"])
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "id: r1", with: "id: 42"))
            == ["t.yml:2:5: 'id' must be a string"])
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "category: method", with: "category: malware"))
            == ["t.yml:5:11: unknown category 'malware' (one of: secret, tool-poisoning, tool-change, method, sensitive-path, command-injection, egress, exposure, protocol, pii)"])
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "level: low", with: "level: severe"))
            == ["t.yml:3:8: unknown level 'severe' (one of: informational, low, medium, high, critical)"])
        #expect(detectionErrors("sel:\n  mcp.size|gt: many\ncondition: sel") == ["t.yml:9:18: 'gt' expects a number"])
        #expect(detectionErrors("sel:\n  mcp.tool|exists: maybe\ncondition: sel") == ["t.yml:9:22: 'exists' expects true or false"])
        #expect(detectionErrors("sel:\n  mcp.tool:\n    nested: map\ncondition: sel") == ["t.yml:10:7: field 'mcp.tool': a value is a scalar or a list of scalars"])
        #expect(detectionErrors("sel:\n  mcp.tool: x\ncondition: [ ]") == ["t.yml:10:14: 'condition' must be a string"])
        #expect(loadErrors("- just\n- a list\n") == ["t.yml:1:1: a rule is a YAML mapping (title, id, detection, ...)"])
    }

    @Test func unknownFieldsAndPaths() {
        #expect(detectionErrors("sel:\n  mcp.metod: x\ncondition: sel")
            == ["t.yml:9:5: unknown field 'mcp.metod' (known: the contract's event fields, mcp.params.*, mcp.result.*, mcp.error.*, http.headers.*)"])
        #expect(detectionErrors("sel:\n  mcp.params.a..b: x\ncondition: sel") == ["t.yml:9:5: field 'mcp.params.a..b': empty path segment"])
        #expect(detectionErrors("sel:\n  mcp.params.a{}.b: x\ncondition: sel") == ["t.yml:9:5: field 'mcp.params.a{}.b': '{}' (member names) only ends a path"])
        #expect(detectionErrors("sel:\n  '|contains': x\ncondition: sel")
            == ["t.yml:9:5: a field name is required before modifiers (keyword searches are not supported)"])
    }

    @Test func keywordSelectionsAreRefused() {
        #expect(detectionErrors("keywords:\n  - evil\n  - worse\ncondition: keywords") == [
            "t.yml:9:7: selection 'keywords': keyword selections (values without a field) are not supported; write 'field: value'",
            "t.yml:10:7: selection 'keywords': keyword selections (values without a field) are not supported; write 'field: value'",
        ])
        #expect(detectionErrors("keywords: evil\ncondition: keywords")
            == ["t.yml:8:13: selection 'keywords': keyword selections (values without a field) are not supported; write 'field: value'"])
    }

    @Test func logsourceAndOtherRefusals() {
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "product: mcpsonar", with: "product: windows"))
            == ["t.yml:6:22: logsource.product 'windows' is not mcpsonar"])
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel").replacingOccurrences(of: "category: mcp}", with: "category: flow}"))
            == ["t.yml:6:42: logsource.category 'flow' is not supported: only 'mcp' (one message)"])
        #expect(detectionErrors("sel:\n  mcp.tool: x\ntimeframe: 5m\ncondition: sel")
            == ["t.yml:10:3: 'timeframe' is not supported: rules see one message at a time"])
        #expect(loadErrors("") == ["t.yml:1:1: empty file: no rule"])
        #expect(loadErrors(ruleYAML("sel:\n  mcp.tool: x\ncondition: sel") + "---\ntitle: second\n")
            == ["t.yml:12:1: one rule per file: a second YAML document starts here"])
    }

    @Test func yamlSyntaxAndDuplicateKeys() {
        #expect(loadErrors("title: [unclosed\nid: x\n") == ["t.yml:2:3: YAML: did not find expected ',' or ']' (while parsing a flow sequence)"])
        #expect(detectionErrors("sel:\n  mcp.tool: x\n  mcp.tool: y\ncondition: sel") == ["t.yml:9:5: YAML: duplicate key 'mcp.tool'"])
    }

    @Test func duplicateIdsAcrossTwoFiles() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-dup-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir + "/sub", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try ruleYAML("sel:\n  mcp.tool: x\ncondition: sel", id: "same", signatureId: 10).write(toFile: dir + "/a.yml", atomically: true, encoding: .utf8)
        try ruleYAML("sel:\n  mcp.tool: y\ncondition: sel", id: "same", signatureId: 10).write(toFile: dir + "/sub/b.yaml", atomically: true, encoding: .utf8)
        try "not: [a rule".write(toFile: dir + "/notes.txt", atomically: true, encoding: .utf8)
        do {
            _ = try RuleSet.load(path: dir)
            Issue.record("duplicate ids were accepted")
        } catch {
            #expect(error.errors.map(\.description) == [
                "\(dir)/sub/b.yaml:2:5: duplicate id 'same' (first in \(dir)/a.yml:2)",
                "\(dir)/sub/b.yaml:4:15: duplicate signature_id 10 (first in \(dir)/a.yml:4)",
            ])
            #expect(error.errors.first == RuleError(file: "\(dir)/sub/b.yaml", line: 2, column: 5, reason: "duplicate id 'same' (first in \(dir)/a.yml:2)"))
        }
    }

    @Test func allErrorsOfAllFilesAreReported() {
        do {
            _ = try RuleSet.load(sources: [
                (file: "one.yml", yaml: ruleYAML("sel:\n  mcp.tool|nope: x\ncondition: sel")),
                (file: "two.yml", yaml: ruleYAML("sel:\n  mcp.tool: x\ncondition: other", id: "r2", signatureId: 2)),
            ])
            Issue.record("broken files were accepted")
        } catch {
            #expect(error.description == "one.yml:9:14: unknown modifier 'nope'\ntwo.yml:10:14: condition references unknown selection 'other'")
        }
    }

    @Test func missingPath() {
        do {
            _ = try RuleSet.load(path: "/nonexistent/rules")
            Issue.record("a missing path loaded")
        } catch {
            #expect(error.description == "/nonexistent/rules: no such file or directory")
        }
    }
}
