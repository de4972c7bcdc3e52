import Testing
import SonarCore
import SonarMCP
@testable import SonarDetect

@Suite struct ContentConfigTests {
    @Test func shippedConfigLoads() throws {
        let c = try shippedContentConfig()
        #expect(c.poisoningEnabled && c.pathsEnabled && c.injectionEnabled && c.piiEnabled)
        #expect(c.piiSeverity == 3)
        #expect(c.instructionMarkers.contains("<important>"))
        #expect(c.credentialFiles.contains(".ssh/"))
        #expect(c.commandWords.contains("curl"))
    }

    @Test func unknownKeyIsAnErrorWithPosition() {
        let yaml = "version: 1\npii:\n  enabled: true\n  severty: 2\n"
        #expect(throws: ContentConfigError(file: "c.yml", line: 4, column: 3, reason: "unknown key in pii")) {
            try ContentConfig.load(yaml: yaml, file: "c.yml")
        }
        do {
            _ = try ContentConfig.load(yaml: yaml, file: "c.yml")
        } catch {
            #expect(error.description == "c.yml:4:3: unknown key in pii")
        }
    }

    @Test func typeAndSyntaxErrors() {
        #expect(throws: ContentConfigError(file: "c.yml", line: 2, column: 13, reason: "severity must be 1, 2 or 3")) {
            try ContentConfig.load(yaml: "pii:\n  severity: 7\n", file: "c.yml")
        }
        #expect(throws: ContentConfigError(file: "c.yml", line: 2, column: 12, reason: "expected true or false")) {
            try ContentConfig.load(yaml: "paths:\n  enabled: maybe\n", file: "c.yml")
        }
        #expect(throws: ContentConfigError(file: "c.yml", line: 3, column: 7, reason: "a phrase must not start with an optional token: (x)? y")) {
            try ContentConfig.load(yaml: "poisoning:\n  instruction_markers:\n    - \"(x)? y\"\n", file: "c.yml")
        }
        do {
            _ = try ContentConfig.load(yaml: "pii: [unclosed\n", file: "bad.yml")
            Issue.record("expected an error")
        } catch {
            #expect(error.file == "bad.yml")
            #expect(error.reason.hasPrefix("invalid YAML: "))
            #expect(error.line >= 1)
        }
        #expect(throws: ContentConfigError.self) { try ContentConfig.load(path: "/nonexistent/content.yml") }
    }

    @Test func ruleCatalogue() {
        let all = ContentRule.all
        #expect(Set(all.map(\.id)).count == all.count)
        #expect(Set(all.map(\.signatureId)).count == all.count)
        for r in all {
            let range: ClosedRange<Int> = switch r.id.split(separator: ".").first {
            case "poisoning": 200100...200199
            case "paths": 200200...200299
            case "injection": 200300...200399
            case "pii": 200400...200499
            default: 0...0
            }
            #expect(range.contains(r.signatureId), "\(r.id)")
            #expect((1...3).contains(r.severity))
        }
    }

    @Test func phrasePatterns() {
        var set = PhraseSet()
        #expect(set.add("ignore (all|any)? (previous|prior) instructions") == nil)
        func match(_ s: String) -> String? {
            Array(s.utf8).withUnsafeBufferPointer { b in
                set.firstMatch(b).map { String(decoding: UnsafeBufferPointer(rebasing: b[$0.range]), as: UTF8.self) }
            }
        }
        #expect(match("Please IGNORE prior instructions now") == "IGNORE prior instructions")
        #expect(match("ignore\u{00A0}all\tprevious\ninstructions") == "ignore\u{00A0}all\tprevious\ninstructions")
        #expect(match("ignore all instructions") == nil)
        #expect(match("ignore previous instructionsX") == nil)
        #expect(match("xignore previous instructions") == nil)
        // Bars outside a group are literal.
        var chat = PhraseSet()
        #expect(chat.add("<|im_start|>") == nil)
        let hit = Array("a <|im_start|>system".utf8).withUnsafeBufferPointer { chat.firstMatch($0)?.range }
        #expect(hit == 2..<14)
        #expect(Array("a < b".utf8).withUnsafeBufferPointer { chat.firstMatch($0) } == nil)
    }
}
