import Testing
import SonarCore
import SonarMCP
@testable import SonarDetect

@Suite struct ContentPIITests {
    @Test func emailInToolResult() throws {
        let h = try ContentHarness()
        let f = h.toolResult("Contact: jane.doe+mcp@mail.example.com, thanks.")
        #expect(f.count == 1)
        let e = try #require(f.first)
        #expect(e.rule == "pii.email" && e.signatureId == 200400 && e.severity == 3 && e.category == .pii)
        let address = "jane.doe+mcp@mail.example.com"
        #expect(e.evidence == Evidence(redacted: Redaction.mask(address), sha256: sha(address), path: "/result/content/0/text"))
        #expect(e.evidence?.redacted == "jane*********************.com")
    }

    @Test func emailNegatives() throws {
        let h = try ContentHarness()
        for text in ["icon@2x.png", "user@localhost", "@mention me", "a @ b.com", "npm i @scope/pkg"] {
            #expect(h.toolResult(text).isEmpty, "\(text)")
        }
    }

    @Test(arguments: [
        "4111 1111 1111 1111", "4111-1111-1111-1111", "5555555555554444", "378282246310005",
        "6011111111111117", "3530111333300000", "2223003122003222", "4012888888881881",
    ])
    func validCards(_ card: String) throws {
        let h = try ContentHarness()
        let f = h.toolResult("Card on file: \(card). Expires 12/29.")
        #expect(f.map(\.rule) == ["pii.payment-card"])
        #expect(f.first?.signatureId == 200401)
        #expect(f.first?.evidence == Evidence(redacted: Redaction.mask(card), sha256: sha(card), path: "/result/content/0/text"))
    }

    @Test func cardNegatives() throws {
        let h = try ContentHarness()
        for text in [
            "4111111111111112",            // Luhn fails
            "1234567812345670",            // Luhn-valid, no issuer uses prefix 1
            "41111111111111110000",        // 20 digits: not a card
            "order 4111111111111111999",   // 19 digits, Luhn fails
            "pi = 3.14159265358979323",    // decimal
            "id:x4111111111111111",        // part of a word
            "4111 1111",                   // too short
        ] {
            #expect(h.toolResult(text).isEmpty, "\(text)")
        }
        // A valid card followed by another number in the same grouping is still found.
        let f = h.toolResult("4111111111111111 2024")
        #expect(f.first?.evidence?.sha256 == sha("4111111111111111"))
    }

    @Test(arguments: ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "NO9386011117947"])
    func validIBANs(_ iban: String) throws {
        let h = try ContentHarness()
        let f = h.exchange("resources/read", params: #"{"uri":"file:///a.txt"}"#,
                           result: #"{"contents":[{"uri":"file:///a.txt","text":"Pay to \#(iban) today"}]}"#).response
        #expect(f.map(\.rule) == ["pii.iban"])
        #expect(f.first?.signatureId == 200402)
        #expect(f.first?.evidence == Evidence(redacted: Redaction.mask(iban), sha256: sha(iban), path: "/result/contents/0/text"))
    }

    @Test func ibanNegatives() throws {
        let h = try ContentHarness()
        for text in ["DE89 3704 0044 0532 0130 01", "GB82WEST1234569876543", "XX82WEST12345698765432", "DE8937040044053201300000"] {
            #expect(h.toolResult(text).isEmpty, "\(text)")
        }
    }

    @Test func promptsGetResultAndNotRequests() throws {
        let h = try ContentHarness()
        let f = h.exchange("prompts/get", params: #"{"name":"p","arguments":{"to":"bob@example.org"}}"#,
                           result: #"{"messages":[{"role":"user","content":{"type":"text","text":"Mail bob@example.org"}}]}"#)
        #expect(f.request.isEmpty)
        #expect(f.response.map(\.evidence?.path) == ["/result/messages/0/content/text"])
        // Binary payloads and tool lists are not read for PII.
        let blob = h.exchange("resources/read", params: #"{"uri":"x"}"#, result: #"{"contents":[{"uri":"x","blob":"NDExMTExMTExMTExMTExMQ==4111111111111111"}]}"#).response
        #expect(blob.isEmpty)
        #expect(h.toolsList(description: "Mail admin@example.org for help").isEmpty)
    }

    /// The members `blob`, `data` and `_meta` are passed over whole, at any depth and whatever
    /// they hold; every other string of the result is read, nested or not.
    @Test func skippedMembersArePassedOverWhole() throws {
        let h = try ContentHarness()
        let result = #"{"content":[{"type":"text","text":"a@example.org"}],"_meta":{"note":"b@example.org"},"data":["c@example.org"],"structuredContent":{"data":{"mail":"d@example.org"},"rows":[["e@example.org"]],"other":"f@example.org"}}"#
        let f = h.exchange("tools/call", params: #"{"name":"t","arguments":{}}"#, result: result).response
        #expect(f.map { "\($0.rule) \($0.evidence?.path ?? "")" } == [
            "pii.email /result/content/0/text",
            "pii.email /result/structuredContent/rows/0/0",
            "pii.email /result/structuredContent/other",
        ])
    }

    @Test func piiCanBeDisabledOrRaised() throws {
        let yaml = try #require(readShipped())
        let off = try ContentHarness(config: ContentConfig.load(yaml: yaml.replacingFirst("pii:\n  enabled: true", with: "pii:\n  enabled: false"), file: "t.yml"))
        #expect(off.toolResult("jane@example.com 4111111111111111").isEmpty)
        let raised = try ContentHarness(config: ContentConfig.load(yaml: yaml.replacingFirst("  severity: 3", with: "  severity: 2"), file: "t.yml"))
        #expect(raised.toolResult("jane@example.com").first?.severity == 2)
    }

    @Test func luhnAndMod97() {
        #expect(ContentDetectors.luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]))
        #expect(!ContentDetectors.luhn([4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2]))
        #expect(ContentDetectors.mod97(Array("GB82WEST12345698765432".utf8)) == 1)
        #expect(ContentDetectors.mod97(Array("GB83WEST12345698765432".utf8)) != 1)
    }
}
