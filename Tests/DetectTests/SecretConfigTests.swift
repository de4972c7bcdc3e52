import Testing
@testable import SonarDetect

private func loadError(_ yaml: String) -> SecretConfigError? {
    do throws(SecretConfigError) {
        _ = try SecretScanner.load(yaml: yaml, file: "rules/secrets.yml")
        return nil
    } catch {
        return error
    }
}

private let valid = """
version: 1
patterns:
  - id: demo-token
    name: Demo token
    signature_id: 100001
    severity: 2
    prefixes: [dmo_]
    charset: alnum
    length: 20
"""

@Test func minimalConfigLoads() throws {
    let scanner = try SecretScanner.load(yaml: valid, file: "x.yml")
    #expect(scanner.patterns.map(\.id) == ["demo-token"])
    let p = try #require(scanner.pattern("demo-token"))
    #expect(p.name == "Demo token" && p.signatureId == 100001 && p.severity == 2 && p.prefixes == ["dmo_"])
    #expect(p.minLength == 20 && p.maxLength == 20 && p.charset == .alnum && p.kind == .token)
    #expect(scanner.scan("x dmo_ABCDEFGHIJKLMNOPQRST y") == [SecretMatch(pattern: "demo-token", value: "dmo_ABCDEFGHIJKLMNOPQRST")])
}

@Test func shippedRulesLoadFromTheirPath() throws {
    let scanner = try SecretScanner.load(path: SecretRules.path)
    #expect(scanner.patterns.count == 37)
}

@Test func configErrorsNameFileLineColumnAndReason() {
    let cases: [(String, String)] = [
        (valid.replacingOccurrences("charset: alnum", "charset: alphanumeric"),
         "rules/secrets.yml:8:14: unknown charset 'alphanumeric' (one of: alnum, alnum_, alnum_dash, base62, upper_alnum, lower_alnum, hex, lower_hex, digits, base64, base64url, b64token, value)"),
        (valid.replacingOccurrences("severity: 2", "severity: 5"), "rules/secrets.yml:6:15: severity must be 1, 2 or 3"),
        (valid.replacingOccurrences("    prefixes: [dmo_]\n", ""), "rules/secrets.yml:3:5: a token pattern needs at least one prefix"),
        (valid.replacingOccurrences("length: 20", "lenght: 20"), "rules/secrets.yml:9:5: unknown key 'lenght'"),
        (valid.replacingOccurrences("signature_id: 100001", "signature_id: 42"),
         "rules/secrets.yml:5:19: signature_id must be within 100001...199999"),
        (valid.replacingOccurrences("prefixes: [dmo_]", "prefixes: [dmo_"), "rules/secrets.yml:8:12: invalid YAML: did not find expected ',' or ']'"),
        (valid + "\n" + valid.split(separator: "\n").dropFirst(2).joined(separator: "\n").replacingOccurrences("100001", "100002"),
         "rules/secrets.yml:10:9: duplicate id 'demo-token'"),
        ("patterns: []\n", "rules/secrets.yml:1:11: 'patterns' is empty"),
        (valid.replacingOccurrences("    prefixes: [dmo_]\n", "    context_keys: [demo]\n"),
         "rules/secrets.yml:7:19: a context pattern needs min_entropy or parts (a key alone proves nothing)"),
        (valid.replacingOccurrences("length: 20", "min_length: 30\n    max_length: 20"),
         "rules/secrets.yml:9:17: lengths must satisfy 1 <= min_length <= max_length <= 65536"),
        (valid.replacingOccurrences("length: 20", "length: 20\n    checksum: luhn"), "rules/secrets.yml:10:15: unknown checksum (known: github-crc32)"),
    ]
    for (yaml, expected) in cases {
        let error = loadError(yaml)
        #expect(error?.description == expected, "\(yaml)")
    }
}

@Test func configErrorCarriesItsParts() {
    let error = loadError(valid.replacingOccurrences("severity: 2", "severity: high"))
    #expect(error == SecretConfigError(file: "rules/secrets.yml", line: 6, column: 15, reason: "expected an integer"))
}

@Test func missingFileIsRefusedWithItsPath() {
    do throws(SecretConfigError) {
        _ = try SecretScanner.load(path: "/nonexistent/secrets.yml")
        Issue.record("loaded a missing file")
    } catch {
        #expect(error.description == "/nonexistent/secrets.yml:0:0: cannot read the file")
    }
}

extension String {
    /// Foundation-free replace for building broken configs.
    func replacingOccurrences(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound]
            out += b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}

extension Substring {
    func range(of needle: String) -> Range<Index>? {
        guard !needle.isEmpty else { return nil }
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(needle) { return i..<(index(i, offsetBy: needle.count)) }
            i = index(after: i)
        }
        return nil
    }
}
