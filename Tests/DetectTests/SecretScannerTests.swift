import Testing
@testable import SonarDetect

@Test func crc32AndBase62() {
    #expect(SecretCodec.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
    #expect(SecretCodec.crc32([UInt8]()) == 0)
    #expect(SecretCodec.base62(0, width: 6) == Array("000000".utf8))
    #expect(SecretCodec.base62(61, width: 6) == Array("00000z".utf8))
    #expect(SecretCodec.base62(62, width: 6) == Array("000010".utf8))
    #expect(SecretCodec.base62(UInt32.max, width: 6) == Array("4gfFC3".utf8))
    // The worked example of GitHub's format: 30 characters of entropy, then their checksum.
    #expect(SecretCodec.base62(SecretCodec.crc32(Array("zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ".utf8)), width: 6) == Array("0mLq17".utf8))
}

@Test func githubChecksumAcceptsOnlyTheRightSixCharacters() {
    let token = Fake.github("ghp_", seed: 99)
    let body = Array(token.utf8.dropFirst(4))
    #expect(body.withUnsafeBufferPointer { SecretCodec.githubChecksumValid($0) })
    for i in (body.count - 6)..<body.count {
        var wrong = body
        wrong[i] = wrong[i] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        #expect(!wrong.withUnsafeBufferPointer { SecretCodec.githubChecksumValid($0) })
    }
    // A flipped entropy character breaks the checksum too.
    var flipped = body
    flipped[0] = flipped[0] == UInt8(ascii: "q") ? UInt8(ascii: "r") : UInt8(ascii: "q")
    #expect(!flipped.withUnsafeBufferPointer { SecretCodec.githubChecksumValid($0) })
}

@Test func entropyInBitsPerCharacter() {
    #expect(Array("aaaa".utf8).withUnsafeBufferPointer { SecretCodec.entropy($0) } == 0)
    #expect(Array("abab".utf8).withUnsafeBufferPointer { SecretCodec.entropy($0) } == 1)
    #expect(Array("0123456789abcdef".utf8).withUnsafeBufferPointer { SecretCodec.entropy($0) } == 4)
}

@Test func longestPrefixWinsAtOnePlace() {
    let s = SecretRules.scanner
    #expect(s.scan(PatternCases.anthropic).map(\.pattern) == ["anthropic-api-key"])
    #expect(s.scan(PatternCases.openai).map(\.pattern) == ["openai-api-key"])
    #expect(s.scan(PatternCases.openaiLegacy).map(\.pattern) == ["openai-legacy-api-key"])
}

@Test func specificPatternShadowsGenericOnTheSameBytes() {
    let s = SecretRules.scanner
    #expect(s.scan("Authorization: Bearer \(Fake.jwt)") == [SecretMatch(pattern: "jwt", value: Fake.jwt)])
    #expect(s.scan("GITHUB_TOKEN=\(PatternCases.ghp)") == [SecretMatch(pattern: "github-pat-classic", value: PatternCases.ghp)])
    #expect(s.scan("client_secret: \(PatternCases.stripeLive)") == [SecretMatch(pattern: "stripe-live-key", value: PatternCases.stripeLive)])
}

@Test func severalSecretsInOneTextInOrderAndOnce() {
    let text = "a=\(PatternCases.ghp) b=\(PatternCases.npm) again \(PatternCases.ghp)"
    #expect(SecretRules.scanner.scan(text) == [
        SecretMatch(pattern: "github-pat-classic", value: PatternCases.ghp),
        SecretMatch(pattern: "npm-token", value: PatternCases.npm),
    ])
}

@Test func base64TextIsDecodedOnceAndRescanned() {
    let blob = Fake.base64("deploy:\n  github: \(PatternCases.ghp)\n")
    #expect(SecretRules.scanner.scan(blob) == [
        SecretMatch(pattern: "github-pat-classic", value: PatternCases.ghp, encoding: "base64", encodedText: blob),
    ])
    let url = Fake.base64("key=\(PatternCases.stripeLive)", url: true, pad: false)
    #expect(SecretRules.scanner.scan(url) == [
        SecretMatch(pattern: "stripe-live-key", value: PatternCases.stripeLive, encoding: "base64", encodedText: url),
    ])
    let dataURL = "data:text/plain;base64," + Fake.base64("id AKIAQ7ZP3XKV9MLT2WRB")
    #expect(SecretRules.scanner.scan(dataURL) == [
        SecretMatch(pattern: "aws-access-key-id", value: "AKIAQ7ZP3XKV9MLT2WRB", encoding: "base64", encodedText: dataURL),
    ])
    // Wrapped at 76 columns with CRLF (MIME), longer than the sample decoded first.
    let long = Fake.base64(String(repeating: "filler text, ", count: 40) + "aws AKIAQ7ZP3XKV9MLT2WRB")
    var wrapped = ""
    for (i, ch) in long.enumerated() { if i > 0 && i % 76 == 0 { wrapped += "\r\n" }; wrapped.append(ch) }
    #expect(SecretRules.scanner.scan(wrapped) == [
        SecretMatch(pattern: "aws-access-key-id", value: "AKIAQ7ZP3XKV9MLT2WRB", encoding: "base64", encodedText: wrapped),
    ])
    // Only once: base64 of base64 of a token is not unwrapped twice.
    let twice = Fake.base64(Fake.base64("t \(PatternCases.ghp)"))
    #expect(SecretRules.scanner.scan(twice) == [])
}

@Test func percentEncodedTextIsDecodedOnceAndRescanned() {
    let encoded = "https://hooks.example/x?t=" + PatternCases.slackBot.replacingDashes()
    #expect(SecretRules.scanner.scan(encoded) == [
        SecretMatch(pattern: "slack-bot-token", value: PatternCases.slackBot, encoding: "url", encodedText: encoded),
    ])
    // Found as written: not reported a second time from the decoded text.
    let plain = "https://api.example/?token=\(PatternCases.ghp)&q=a%20b"
    #expect(SecretRules.scanner.scan(plain) == [SecretMatch(pattern: "github-pat-classic", value: PatternCases.ghp)])
}

extension String {
    func replacingDashes() -> String {
        var out = ""
        for ch in self { out += ch == "-" ? "%2D" : String(ch) }
        return out
    }
}

/// Text of the kind benign MCP traffic carries all day.
let benignStrings: [String] = [
    "3f2b8c1e-5d4a-4b7e-9c0f-1a2b3c4d5e6f",                                   // UUID
    "223c79b10b29486999f0c438667a8feb",                                        // Mcp-Session-Id (32 hex)
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",        // SHA-256 hex
    "Add an item to the task-list; see also disk-usage and risk-score",
    "pip install scikit-learn; ask-me-anything; desk-lamp",
    #"{"type":"object","properties":{"password":{"type":"string","description":"The user's password"},"api_key":{"type":"string"}},"required":["password"]}"#,
    "The token: a short-lived value. Authorization uses a Bearer token in the header.",
    "Set the password= field in your config file before running",
    "2026-11-25T11:40:55.815979+0000",
    "Use AKIA-style key ids only in docs; the example key is AKIAIOSFODNN7EXAMPLE",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "progressToken=7f0e3a9c-6b2d-4e1f-8a5c-0d9e7b3f1a24",
    "Basic authentication is not supported",
    "skeleton-key-holder and monkey-business",
    "cache-key-5d41402abc4b2a76b9719d911017c592 and idempotency_key-0cc175b9c0f1b6a831c399e269772661",
    "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ5\n-----END CERTIFICATE-----",
    "eyJhbGciOiJIUzI1NiJ9 is only a header",
    "AIzaSy is where Google keys start",
]

@Test(arguments: benignStrings)
func benignTextRaisesNothing(_ text: String) {
    #expect(SecretRules.scanner.scan(text) == [])
}

@Test func base64ImageDataRaisesNothing() {
    var r = FakeRandom(seed: 7)
    var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    for _ in 0..<12_000 { png.append(UInt8(truncatingIfNeeded: r.next())) }
    #expect(SecretRules.scanner.scan(Fake.base64(png)) == [])
    #expect(SecretRules.scanner.scan("data:image/png;base64," + Fake.base64(png)) == [])
}

/// Texts shorter than any match are answered without a scan; the bound is exact at its edge.
@Test func shortestMatchBoundsTheScan() {
    let token = SecretPattern(id: "t", name: "t", signatureId: 1, severity: 2, prefixes: ["k-"],
                              charset: .alnum, minLength: 3, maxLength: 8)
    let pin = SecretPattern(id: "p", name: "p", signatureId: 2, severity: 2, kind: .context, contextKeys: ["pin"],
                            charset: .alnum, minLength: 4, maxLength: 8)
    let scanner = SecretScanner(patterns: [token, pin])
    #expect(scanner.compiled.shortestMatch == 5) // "k-" and three bytes (the context key "pin=" needs 3+1+4)
    #expect(scanner.compiled.shortestValue == 4)
    #expect(scanner.scan("k-abc").map(\.value) == ["k-abc"])
    #expect(scanner.scan("k-ab").isEmpty)
    #expect(scanner.scan("pin=abcd").map(\.value) == ["abcd"])
    #expect(scanner.scan(value: "abcd", key: "pin").map(\.value) == ["abcd"])
    #expect(scanner.scan(value: "abc", key: "pin").isEmpty)
    let cache = SecretScanCache()
    for text in ["k-abc", "k-ab", "k-abc"] {
        var copy = text
        let cached = copy.withUTF8 { cache.matches(utf8: $0, scanner: scanner) }
        #expect(cached == scanner.scan(text))
    }
    #expect(cache.matches(headerName: "X-Pin", value: "abcd", scanner: scanner).map(\.value) == ["abcd"])
    #expect(cache.matches(headerName: "X-Pin", value: "abc", scanner: scanner).isEmpty)
    // The shipped rules: "Basic " and eight bytes, and a `password` or `token` value of twelve.
    // Member names ("jsonrpc", "protocolVersion"), methods and most short values are under it.
    #expect(SecretRules.scanner.compiled.shortestMatch == 14)
    #expect(SecretRules.scanner.compiled.shortestValue == 12)
}
