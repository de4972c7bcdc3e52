import Foundation
import Testing
import SonarCore
import SonarMCP
import SonarProtocols
@testable import SonarDetect

private let ghp = PatternCases.ghp
private let npm = PatternCases.npm
private let blob = Fake.base64("deploy:\n  github: \(PatternCases.ghp)\n")

private let callJSON = """
{"jsonrpc": "2.0", "id": 7, "method": "tools/call",
 "params": {"name": "deploy", "arguments": {
   "token": "\(ghp)",
   "note": "again \(ghp) and \(ghp)",
   "blob": "\(blob)",
   "\(npm)": "a key used as a member name",
   "env": {"DB_PASSWORD": "\(PatternCases.password)", "list": ["x", "task-list"]}}}}
"""

private func finding(_ id: String, _ sid: Int, _ signature: String, _ severity: Int, _ secret: String, _ path: String) -> Finding {
    Finding(rule: "secret." + id, signatureId: sid, signature: signature, category: .secret, severity: severity,
            evidence: Redaction.evidence(secret: secret, path: path))
}

@Test func everyStringAndKeyOfARequestIsScanned() {
    #expect(findings(callJSON) == [
        finding("github-pat-classic", 100003, "GitHub personal access token in tools/call params", 1, ghp, "/params/arguments/token"),
        finding("github-pat-classic", 100003, "GitHub personal access token in tools/call params", 1, ghp, "/params/arguments/note"),
        finding("github-pat-classic", 100003, "GitHub personal access token in tools/call params (base64-encoded)", 1, ghp,
                "/params/arguments/blob"),
        finding("npm-token", 100021, "npm access token in tools/call params", 1, npm,
                "/params/arguments/" + Redaction.mask(npm)),
        finding("generic-password", 100034, "Password assignment in tools/call params", 2, PatternCases.password,
                "/params/arguments/env/DB_PASSWORD"),
    ])
}

@Test func evidenceHoldsTheMaskAndHashOfTheExactSecret() throws {
    let first = try #require(findings(callJSON).first?.evidence)
    #expect(first.redacted == String(ghp.prefix(4)) + String(repeating: "*", count: 32) + String(ghp.suffix(4)))
    #expect(first.sha256 == Redaction.sha256Hex(ghp.utf8))
    #expect(!first.redacted.contains(ghp.dropFirst(4).prefix(8)))
}

@Test func responsesNameTheMethodWhenTheCallerKnowsIt() {
    let json = #"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"id AKIAQ7ZP3XKV9MLT2WRB"}],"isError":false}}"#
    let expected = { (signature: String) in
        [finding("aws-access-key-id", 100001, signature, 1, "AKIAQ7ZP3XKV9MLT2WRB", "/result/content/0/text")]
    }
    #expect(findings(json, requestMethod: "tools/call") == expected("AWS access key ID in tools/call result"))
    #expect(findings(json) == expected("AWS access key ID in result"))
    let error = #"{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"bad key sk_live_\#(PatternCases.stripeLive.dropFirst(8))"}}"#
    #expect(findings(error) == [finding("stripe-live-key", 100013, "Stripe live secret key in error", 1, PatternCases.stripeLive,
                                        "/error/message")])
}

@Test func requestHeadersAreScanned() {
    let headers = HTTPHeaders([
        (name: "Content-Type", value: "application/json"),
        (name: "Authorization", value: "Bearer \(PatternCases.bearer)"),
        (name: "X-Api-Key", value: PatternCases.apiKey),
        (name: "Mcp-Session-Id", value: "223c79b10b29486999f0c438667a8feb"),
        (name: "X-Forwarded-Authorization", value: "Bearer \(Fake.jwt)"),
    ])
    let json = #"{"jsonrpc":"2.0","id":1,"method":"ping"}"#
    #expect(findings(json, headers: headers) == [
        finding("bearer-token", 100036, "Bearer token in HTTP header Authorization", 2, PatternCases.bearer, "header:authorization"),
        finding("generic-api-key", 100035, "API key or secret assignment in HTTP header X-Api-Key", 2, PatternCases.apiKey,
                "header:x-api-key"),
        finding("jwt", 100019, "JSON Web Token in HTTP header X-Forwarded-Authorization", 2, Fake.jwt,
                "header:x-forwarded-authorization"),
    ])
}

@Test func oneFindingPerPatternValueAndPath() {
    // The same token three times in one string and once more elsewhere: two findings.
    let json = #"{"jsonrpc":"2.0","method":"notifications/message","params":{"data":"\#(ghp) \#(ghp) \#(ghp)","logger":"\#(ghp)"}}"#
    let paths = findings(json).map { $0.evidence?.path }
    #expect(paths == ["/params/data", "/params/logger"])
}

@Test func escapedTextIsDecodedBeforeScanning() {
    // `\u0067` is "g": a token cannot hide behind JSON escapes.
    let escaped = "\\u0067" + ghp.dropFirst()
    let json = #"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"arguments":{"q":"\#(escaped)"}}}"#
    #expect(findings(json).map(\.rule) == ["secret.github-pat-classic"])
}

@Test func secretsForRedactionIncludeTheEncodedCarrier() throws {
    let view = try #require(messageView(callJSON))
    let headers = HTTPHeaders([(name: "Authorization", value: "Bearer \(PatternCases.bearer)")])
    let detector = SecretDetector(scanner: SecretRules.scanner)
    #expect(detector.secrets(in: view, headers: headers) == [ghp, blob, npm, PatternCases.password, PatternCases.bearer])
    var count = 0
    let collected = detector.inspect(view, headers: headers, requestMethod: nil) { _ in count += 1 }
    #expect(collected == detector.secrets(in: view, headers: headers))
    #expect(count == 6)
}

@Test func redactedPayloadIsExactValidAndSecretFree() throws {
    let json = """
    {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
      "params": {"arguments": {"t": "use \(ghp) now", "\(npm)": true, "n": 1.50E+3, "s": "a\\"b\\u0041\\n",
                 "blob": "\(blob)", "list": [null, false, {"k": []}]}}}
    """
    let view = try #require(messageView(json))
    let detector = SecretDetector(scanner: SecretRules.scanner)
    let secrets = detector.secrets(in: view, headers: nil)
    #expect(secrets == [ghp, npm, blob])
    let text = PayloadRedaction.compactText(view.document, view.message.node, secrets: secrets)
    let expected = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"t":"use "#
        + Redaction.mask(ghp) + #" now",""# + Redaction.mask(npm) + #"":true,"n":1.50E+3,"s":"a\"bA\n","blob":""#
        + Redaction.mask(blob) + #"","list":[null,false,{"k":[]}]}}}"#
    #expect(text == expected)
    let reparsed = try JSONDocument.parse(Array(text.utf8))
    #expect(reparsed.compactText(reparsed.root) == text)
    for secret in secrets { #expect(!text.contains(secret)) }
    #expect(!text.contains(ghp.dropFirst(4).dropLast(4)))
}

@Test func redactionWithoutSecretsIsCompactText() throws {
    let samples = [
        #"{"a" : [1, 2.5e3, -0, true, null], "b": {"c": "\u00e9\t\"x\"", "d": []}, "e": {}}"#,
        #"[ "\ud83d\ude00", "\/slash", "bad \ud800 surrogate" ]"#,
        #""just a string""#, "42",
    ]
    for s in samples {
        let doc = try JSONDocument.parse(Array(s.utf8))
        #expect(PayloadRedaction.compactText(doc, doc.root, secrets: []) == doc.compactText(doc.root))
        #expect(PayloadRedaction.compactText(doc, doc.root, secrets: ["zzzz-not-present"]) == doc.compactText(doc.root))
    }
}

@Test func secretInsideAnotherIsCoveredByTheLongerMask() throws {
    let doc = try JSONDocument.parse(Array(#"{"k":"x-abcdefghijklmnop-abcdefghijklmnopqrst-y"}"#.utf8))
    let text = PayloadRedaction.compactText(doc, doc.root, secrets: ["abcdefghijklmnop", "abcdefghijklmnopqrst"])
    #expect(text == #"{"k":"x-abcd********mnop-abcd************qrst-y"}"#)
}

/// Every JSON-RPC message the official SDKs exchanged in the recorded fixtures (Fixtures/*.pcap):
/// benign traffic with UUIDs, session ids, hashes, schemas and base64 content must raise nothing.
@Test func officialSDKTrafficRaisesNothing() throws {
    let dirs = ["/Fixtures/", "/Fixtures/crafted/"]
    let names = [
        "mcp1-legacy-sse.pcap", "mcp1-streamable-json.pcap", "mcp1-streamable-resumable.pcap", "mcp1-streamable.pcap",
        "mcp1-websocket.pcap", "mcp1client-mcp2server.pcap", "mcp2-streamable-json.pcap", "mcp2-streamable-resumable.pcap",
        "mcp2-streamable.pcap", "mcp2client-mcp1server.pcap", "ndjson-swift-network.pcap", "ws-midstream.pcap",
    ]
    let detector = SecretDetector(scanner: SecretRules.scanner)
    var messages = 0
    var raised: [Finding] = []
    for dir in dirs {
        for name in names {
            guard let data = FileManager.default.contents(atPath: SecretRules.root + dir + name) else { continue }
            let bytes = [UInt8](data)
            for range in jsonObjectRanges(bytes) {
                guard let doc = try? JSONDocument.parse(Array(bytes[range])) else { continue }
                var counters = Counters()
                for m in JSONRPC.classify(doc, counters: &counters).messages {
                    messages += 1
                    detector.inspect(MCPMessageView(document: doc, message: m), headers: nil) { raised.append($0) }
                }
            }
        }
    }
    #expect(messages >= 200)
    #expect(raised == [])
}

/// Byte ranges of `{"…}` objects in raw capture bytes (string-aware brace matching).
private func jsonObjectRanges(_ b: [UInt8]) -> [Range<Int>] {
    var out: [Range<Int>] = []
    var i = 0
    while i + 1 < b.count {
        guard b[i] == 0x7B, b[i + 1] == 0x22 else { i += 1; continue }
        var depth = 0, j = i, inString = false, end: Int?
        while j < b.count, j - i < 1 << 20 {
            let c = b[j]
            if inString {
                if c == 0x5C { j += 1 } else if c == 0x22 { inString = false }
            } else if c == 0x22 { inString = true } else if c == 0x7B { depth += 1 } else if c == 0x7D {
                depth -= 1
                if depth == 0 { end = j + 1; break }
            } else if c < 0x09 { break }
            j += 1
        }
        if let end { out.append(i..<end); i = end } else { i += 1 }
    }
    return out
}

@Test func memberNamesGiveContextToTheirValues() {
    let json = #"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"arguments":{"config":{"Stripe_API_Key":"\#(PatternCases.apiKey)","progressToken":"7f0e3a9c-6b2d-4e1f-8a5c-0d9e7b3f1a24","HEROKU_API_KEY":"\#(PatternCases.heroku)","api_key":"\#(PatternCases.stripeLive)"}}}}"#
    #expect(findings(json) == [
        finding("generic-api-key", 100035, "API key or secret assignment in tools/call params", 2, PatternCases.apiKey,
                "/params/arguments/config/Stripe_API_Key"),
        finding("heroku-api-key", 100033, "Heroku API key in tools/call params", 1, PatternCases.heroku,
                "/params/arguments/config/HEROKU_API_KEY"),
        // The specific pattern names the value; the generic key rule gives way.
        finding("stripe-live-key", 100013, "Stripe live secret key in tools/call params", 1, PatternCases.stripeLive,
                "/params/arguments/config/api_key"),
    ])
}

/// Array elements are scanned by the name of the member holding the array (through arrays in
/// arrays), objects in arrays by their own members' names; a name's own text is never keyed.
@Test func arrayElementsTakeTheNearestMemberName() {
    let json = #"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"arguments":{"db_password":[["\#(PatternCases.password)"]],"items":[{"note":"x","token":"\#(PatternCases.apiKey)"}],"plain":["\#(PatternCases.apiKey)"]}}}"#
    #expect(findings(json) == [
        finding("generic-password", 100034, "Password assignment in tools/call params", 2, PatternCases.password,
                "/params/arguments/db_password/0/0"),
        finding("generic-api-key", 100035, "API key or secret assignment in tools/call params", 2, PatternCases.apiKey,
                "/params/arguments/items/0/token"),
    ])
    // The place is the top-level member's, whatever the depth.
    let error = #"{"jsonrpc":"2.0","id":6,"error":{"code":-32000,"message":"m","data":[{"secret":"\#(PatternCases.apiKey)"},"\#(ghp)"]}}"#
    #expect(findings(error, requestMethod: "tools/call") == [
        finding("generic-api-key", 100035, "API key or secret assignment in tools/call error", 2, PatternCases.apiKey,
                "/error/data/0/secret"),
        finding("github-pat-classic", 100003, "GitHub personal access token in tools/call error", 1, ghp, "/error/data/1"),
    ])
}

/// Names through many levels of arrays (past the eight kept inline), and after inner arrays
/// close: every element still takes the name of the member holding its arrays.
@Test func arrayNamesHoldThroughDeepNestingAndAfterInnerArraysClose() {
    let deep = String(repeating: "[", count: 12) + #""\#(PatternCases.password)""# + String(repeating: "]", count: 12)
    // Nine arrays deep, an object names a further array: its elements take that name.
    let named = String(repeating: "[", count: 9) + #"{"token":[["\#(PatternCases.apiKey)"]]}"# + String(repeating: "]", count: 9)
    let json = #"{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"arguments":{"db_password":\#(deep),"list":\#(named),"api_key":[["x"],{"n":1},"\#(PatternCases.apiKey)"],"note":["\#(PatternCases.password)"]}}}"#
    #expect(findings(json) == [
        finding("generic-password", 100034, "Password assignment in tools/call params", 2, PatternCases.password,
                "/params/arguments/db_password" + String(repeating: "/0", count: 12)),
        finding("generic-api-key", 100035, "API key or secret assignment in tools/call params", 2, PatternCases.apiKey,
                "/params/arguments/list" + String(repeating: "/0", count: 9) + "/token/0/0"),
        finding("generic-api-key", 100035, "API key or secret assignment in tools/call params", 2, PatternCases.apiKey,
                "/params/arguments/api_key/2"),
    ])
}

/// A message's strings are read in time linear in their number: arrays of long strings (each
/// looked up) four times as large may cost at most eight times as much (a walk from the root
/// for each element costs sixteen). A ratio, so a loaded machine does not fail it.
@Test func longArraysAreScannedInLinearTime() throws {
    let detector = SecretDetector(scanner: SecretRules.scanner)
    func view(_ n: Int) throws -> MCPMessageView {
        let items = (0..<n).map { #"["plain text value number \#($0) in a nested array"]"# }.joined(separator: ",")
        return try #require(messageView(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{"rows":[\#(items)]}}}"#))
    }
    // The fastest of three, in this thread's CPU time (`threadCPUSeconds`).
    func seconds(_ v: MCPMessageView) -> Double {
        (0..<3).map { _ in threadCPUSeconds { _ = detector.secrets(in: v, headers: nil) } }.min() ?? 0
    }
    let small = try view(5_000), large = try view(20_000)
    let base = max(seconds(small), 0.001)
    let t = seconds(large)
    #expect(t / base < 8, "5 000 rows \(base) s, 20 000 rows \(t) s")
}

/// `n` distinct AWS access key ids (random bodies that pass the pattern's entropy check).
func awsKeys(_ n: Int) -> [String] {
    var state: UInt64 = 0x9E37_79B9_7F4A_7C15
    return (0..<n).map { _ in
        // Sixteen distinct characters of 32 (a shuffle's first half): entropy 4 bits a character.
        var alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        for i in stride(from: alphabet.count - 1, to: 0, by: -1) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            alphabet.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
        }
        return "AKIA" + String(alphabet.prefix(16))
    }
}

/// A message of a hundred secrets: the first sixty-four (in document order) are reported, the
/// rest counted; every one of them is among the secrets to mask.
@Test func atMostSixtyFourSecretsAreReportedAMessageAndAllAreMasked() throws {
    let keys = awsKeys(100)
    let json = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"keys":[\#(keys.map { "\"\($0)\"" }.joined(separator: ","))]}}}"#
    let view = try #require(messageView(json))
    let detector = SecretDetector(scanner: SecretRules.scanner)
    var reported: [Finding] = []
    let secrets = detector.inspect(view, headers: nil, requestMethod: nil) { reported.append($0) }
    #expect(SecretDetector.maxReportedPerMessage == 64)
    #expect(reported.map { $0.evidence?.path } == (0..<64).map { "/params/arguments/keys/\($0)" })
    #expect(reported.map(\.evidence?.sha256) == keys.prefix(64).map { Redaction.sha256Hex($0.utf8) })
    #expect(secrets == Set(keys))
    #expect(detector.locateMasked(view, headers: nil).unreported == 36)
    #expect(detector.secrets(in: view, headers: nil) == Set(keys))
}

/// Many secrets in one message cost time linear in their number: reporting and masking are
/// bounded per message (four times the secrets at most eight times the time; masking each
/// finding against every secret with Foundation's search took 135 s for ten thousand).
@Test func manySecretsAreFoundInLinearTime() throws {
    let detector = SecretDetector(scanner: SecretRules.scanner)
    func view(_ n: Int) throws -> MCPMessageView {
        try #require(messageView(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"keys":[\#(awsKeys(n).map { "\"\($0)\"" }.joined(separator: ","))]}}}"#))
    }
    // The fastest of three, in this thread's CPU time (`threadCPUSeconds`).
    func seconds(_ v: MCPMessageView) -> Double {
        (0..<3).map { _ in threadCPUSeconds { _ = detector.inspect(v, headers: nil, requestMethod: nil) { _ in } } }.min() ?? 0
    }
    let small = try view(2_000), large = try view(8_000)
    let base = max(seconds(small), 0.001)
    let t = seconds(large)
    #expect(t / base < 8, "2 000 secrets \(base) s, 8 000 secrets \(t) s")
}

@Test func pemVariantsAreWholeBlocks() {
    let openssh = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + Fake.pemBody + "\n-----END OPENSSH PRIVATE KEY-----"
    let legacy = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF\n\n"
        + Fake.pemBody + "\n-----END RSA PRIVATE KEY-----"
    let pkcs8 = "-----BEGIN PRIVATE KEY-----\r\n" + Fake.pemBody.split(separator: "\n").joined(separator: "\r\n") + "\r\n-----END PRIVATE KEY-----"
    let escaped = "-----BEGIN EC PRIVATE KEY-----\\n" + Fake.pemBody.split(separator: "\n").joined(separator: "\\n") + "\\n-----END EC PRIVATE KEY-----"
    let truncated = "-----BEGIN PRIVATE KEY-----\n" + Fake.pemBody
    for key in [openssh, legacy, pkcs8, escaped, truncated] {
        #expect(SecretRules.scanner.scan("cat id_key:\n" + key + "\n$ ") == [SecretMatch(pattern: "private-key-pem", value: key)])
    }
    #expect(SecretRules.scanner.scan("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----") == [])
}

@Test func noSecretInSignaturesOrPathsEvenWhenUsedAsNames() {
    // A token as the method, as a top-level member name, and as a nested member name.
    let json = #"{"jsonrpc":"2.0","id":9,"method":"\#(ghp)","\#(npm)":{"\#(PatternCases.stripeLive)":1}}"#
    let all = findings(json)
    #expect(all.map(\.rule) == ["secret.github-pat-classic", "secret.npm-token", "secret.stripe-live-key"])
    #expect(all.map(\.signature) == [
        "GitHub personal access token in \(Redaction.mask(ghp)) method",
        "npm access token in \(Redaction.mask(ghp)) message",
        "Stripe live secret key in \(Redaction.mask(ghp)) message",
    ])
    #expect(all.map { $0.evidence?.path } == [
        "/method", "/" + Redaction.mask(npm), "/" + Redaction.mask(npm) + "/" + Redaction.mask(PatternCases.stripeLive),
    ])
    for f in all {
        for secret in [ghp, npm, PatternCases.stripeLive] {
            #expect(!f.signature.contains(secret) && !(f.evidence?.path.contains(secret) ?? true)
                    && !(f.evidence?.redacted.contains(secret) ?? true))
        }
    }
}

/// Base64 inside other text is decoded run by run (the detection fixture's client-attacks
/// message 32: `backup <base64 of a GitHub token>`); ordinary words and ids are not secrets.
@Test func embeddedBase64RunIsDecodedOnce() throws {
    let scanner = try SecretScanner.load(path: rulesRoot + "/secrets.yml")
    let hits = scanner.scan("backup Z2hwX3pDTlVWZEh1Zkk3d1VTajQ5N1BzUVZTQURXNndUQjF0aWxONA== for later")
    #expect(hits.map(\.value) == ["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"])
    #expect(hits.first?.encoding == "base64")
    #expect(hits.first?.encodedText == "Z2hwX3pDTlVWZEh1Zkk3d1VTajQ5N1BzUVZTQURXNndUQjF0aWxONA==")
    #expect(scanner.scan("session 2b7c8f0e-1d2a-4b3c-9e8f-0a1b2c3d4e5f and sha256 ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad").isEmpty)
}

/// The header cache answers what a scan would: the first time, again, after its slot was taken
/// by other headers, for spellings that are canonically equal but not byte equal, for values too
/// long to keep, and with other patterns after a reload.
@Test func scanCacheAnswersAsTheScanDoes() throws {
    let detector = SecretDetector(scanner: SecretRules.scanner)
    let cache = SecretScanCache()
    let tokenB64 = Fake.base64(ghp)
    var headers: [(String, String)] = [
        ("Authorization", "Bearer \(PatternCases.bearer)"), ("X-Api-Key", ghp), ("Accept", "application/json"),
        ("Mcp-Session-Id", "ad2fc9ef16db45c4a1d19132b441be95"), ("X-Blob", tokenB64), ("X-Long", "x" + String(repeating: ghp, count: 12)),
        // "é" precomposed and decomposed: equal as Strings, not as bytes.
        ("X-Note", "caf\u{e9} \(npm)"), ("X-Note", "cafe\u{301} \(npm)"),
    ]
    for i in 0..<6000 { headers.append(("X-N\(i % 7)", "value-\(i)")) } // more than the slots: collisions
    for round in 0..<2 {
        for (name, value) in headers {
            let expected = detector.scanHeader(name: name, value: value)
            #expect(cache.matches(headerName: name, value: value, scanner: detector.scanner) == expected, "\(round) \(name)")
        }
    }
    #expect(cache.count > 0 && cache.count <= 2 * SecretScanCache.slotCount)
    // A URL-encoded token is reported with the text that carried it, to be redacted as sent:
    // the cache must give each spelling its own bytes, though the two Strings compare equal.
    let nfc = "caf\u{e9} %67" + ghp.dropFirst(), nfd = "cafe\u{301} %67" + ghp.dropFirst()
    #expect(nfc == nfd && Array(nfc.utf8) != Array(nfd.utf8))
    for value in [nfc, nfd, nfc] {
        let found = cache.matches(headerName: "X-Note", value: value, scanner: detector.scanner)
        #expect(found.count == 1 && found.first?.encoding == "url")
        #expect(found.first.flatMap { $0.encodedText.map { Array($0.utf8) } } == Array(value.utf8))
    }
    #expect(!detector.scanHeader(name: "X-Api-Key", value: ghp).isEmpty)
    // Other patterns (a reload): nothing answered from the old ones.
    let none = SecretScanner(patterns: [])
    #expect(cache.matches(headerName: "X-Api-Key", value: ghp, scanner: none) == [])
    #expect(cache.matches(headerName: "X-Api-Key", value: ghp, scanner: detector.scanner) == detector.scanHeader(name: "X-Api-Key", value: ghp))
}

/// Through `locateMasked`: the same locations with and without the cache, message after message.
@Test func locateWithScanCacheIsLocateWithout() throws {
    let view = try #require(messageView(callJSON))
    let detector = SecretDetector(scanner: SecretRules.scanner)
    let cache = SecretScanCache()
    let headers = HTTPHeaders([(name: "Authorization", value: "Bearer \(PatternCases.bearer)"),
                               (name: "Host", value: "127.0.0.1:8000"), (name: "X-Key", value: npm)])
    let plain = detector.locateMasked(view, headers: headers)
    for _ in 0..<3 {
        let cached = detector.locateMasked(view, headers: headers, cache: cache)
        #expect(cached.hits == plain.hits)
        #expect(cached.needles.map(\.bytes) == plain.needles.map(\.bytes))
    }
}

/// JSON strings through the cache: each spelling keeps its own bytes as the text to redact, and
/// many distinct strings (more than the slots) give what the scan gives.
@Test func scanCacheKeepsEachJSONSpelling() throws {
    let detector = SecretDetector(scanner: SecretRules.scanner)
    let cache = SecretScanCache()
    let token = "%67" + ghp.dropFirst()
    for text in ["caf\u{e9} \(token)", "cafe\u{301} \(token)", "caf\u{e9} \(token)"] {
        let json = #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"q":"\#(text)"}}"#
        let view = try #require(messageView(json))
        let located = detector.locateMasked(view, headers: nil, cache: cache)
        #expect(located.hits.count == 1)
        #expect(located.hits.first.flatMap { $0.match.encodedText.map { Array($0.utf8) } } == Array(text.utf8))
        #expect(located.hits == detector.locateMasked(view, headers: nil).hits)
    }
    for i in 0..<6000 {
        let json = #"{"jsonrpc":"2.0","id":\#(i),"method":"tools/call","params":{"n\#(i % 13)":"v-\#(i)","k":"\#(i % 50 == 0 ? npm : "x")"}}"#
        let view = try #require(messageView(json))
        #expect(detector.locateMasked(view, headers: nil, cache: cache).hits == detector.locateMasked(view, headers: nil).hits)
    }
}

/// Strings under the shortest match are skipped before their names are read; the bound is
/// exact: a twelve-byte password under its name is found, written plainly or escaped, and one
/// byte less is not a finding either way.
@Test func shortValuesUnderContextNamesAtTheBound() {
    let twelve = "Zq8#rT5!wK3m", eleven = "Zq8#rT5!wK3"
    func message(_ value: String) -> String {
        #"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"password":"\#(value)"}}}"#
    }
    #expect(findings(message(twelve)).map(\.rule) == ["secret.generic-password"])
    #expect(findings(message("Zq8#rT5!wK\\u0033m")).map(\.rule) == ["secret.generic-password"])
    #expect(findings(message(eleven)).isEmpty)
    #expect(findings(message("Zq8#rT5!wK\\u0033")).isEmpty)
}

/// The place a top-level member names, told by the key's length first, answers as comparing the
/// key with every JSON-RPC member name: escaped spellings, other cases and same-length names too.
@Test func placeOfAKeyAnswersAsTheFullComparison() throws {
    let keys = [#""params""#, #""result""#, #""error""#, #""id""#, #""method""#, #""jsonrpc""#,
                #""\u0069d""#, #""par\u0061ms""#, #""jsonrp\u0063""#, #""ID""#, #""Params""#, #""METHOD""#,
                #""ab""#, #""errxr""#, #""paramz""#, #""resulT""#, #""jsonrpX""#, #""""#, #""i""#,
                #""parameters""#, #""é""#, #""idé""#, #""\n""#, #""methods""#]
    let names = ["params", "result", "error", "id", "method", "jsonrpc"]
    for (i, key) in keys.enumerated() {
        let doc = try JSONDocument.parse(Array("{\(key):\(i)}".utf8))
        var checked = 0
        doc.forEachMember(doc.root) { k, _ in
            let expected = names.first { doc.keyEquals(k, $0) } ?? "message"
            #expect(SecretDetector.place(of: k, in: doc) == expected, "key \(key)")
            checked += 1
            return true
        }
        #expect(checked == 1)
    }
    // The escaped spelling still names the member it decodes to.
    let doc = try JSONDocument.parse(Array(#"{"\u0069d":1}"#.utf8))
    doc.forEachMember(doc.root) { k, _ in
        #expect(SecretDetector.place(of: k, in: doc) == "id")
        return true
    }
}
