import Foundation
import Testing
import SonarDetect
@testable import SonarEngine

/// Runs the sensor with the shipped rules and returns each alert with the 1-based index of the
/// message it is about (alerts follow their message's event).
func detect(_ capture: String, payloads: Bool = false) throws -> (events: [[String: Any]], alerts: [(message: Int, alert: [String: Any])], lines: [String]) {
    let sink = MemorySink()
    var config = EngineConfig()
    config.mcp.includePayloads = payloads
    config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    let engine = Engine(config: config, sink: sink)
    _ = try Runner(engine: engine).replay(files: [Repo.fixture(capture)], diagnostics: { _ in })
    var message = 0
    var alerts: [(Int, [String: Any])] = []
    let events = sink.lines.map(jsonObject)
    for e in events {
        switch e["event_type"] as? String {
        case "mcp": message += 1
        case "alert": alerts.append((message, e))
        default: break
        }
    }
    return (events, alerts, sink.lines)
}

private struct Expected {
    var message: Int
    var category: String
    var path: String
    var sha256: [String]
}

private func expectedFindings(_ capture: String) -> [Expected] {
    let url = Repo.fixtures.appendingPathComponent("detect/expected-findings.json")
    guard let data = try? Data(contentsOf: url),
          let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let captures = root["captures"] as? [String: Any],
          let c = captures[capture] as? [String: Any], let findings = c["findings"] as? [[String: Any]] else { return [] }
    return findings.compactMap { f in
        guard let m = f["message"] as? Int, let cat = f["category"] as? String, let path = f["path"] as? String else { return nil }
        // Credentials in the Authorization header are masked, not alerted (docs/rules.md).
        if path.hasPrefix("header:") { return nil }
        var hashes: [String] = []
        if let h = f["sha256"] as? String { hashes.append(h) }
        // An encoded secret's note names the decoded value's hash too: "(sha256 <64 hex>)".
        if let what = f["what"] as? String, let r = what.range(of: #"sha256 [0-9a-f]{64}"#, options: .regularExpression) {
            hashes.append(String(what[r].dropFirst(7)))
        }
        return Expected(message: m, category: cat, path: path, sha256: hashes)
    }
}

private let detectCaptures = ["poisoned-tool", "credential-leak", "rug-pull", "client-attacks", "sampling-elicitation"]

/// Every finding the fixture's author placed on the wire (Fixtures/detect/README.md) is raised,
/// on the right message, with the right category and JSON pointer; secrets with the hash of the
/// exact fake value.
@Test(arguments: detectCaptures)
func attackCaptureRaisesItsFindings(_ capture: String) throws {
    let (_, alerts, _) = try detect("detect/\(capture).pcap")
    let expected = expectedFindings(capture)
    #expect(!expected.isEmpty)
    for x in expected {
        let hits = alerts.filter { a in
            let al = a.alert["alert"] as? [String: Any]
            let ev = a.alert["evidence"] as? [String: Any]
            return a.message == x.message && al?["category"] as? String == x.category && ev?["path"] as? String == x.path
        }
        #expect(!hits.isEmpty, "\(capture): no \(x.category) alert at \(x.path) on message \(x.message)")
        if x.category == "secret" {
            let hashes = hits.compactMap { ($0.alert["evidence"] as? [String: Any])?["sha256"] as? String }
            #expect(hashes.contains { x.sha256.contains($0) }, "\(capture): secret at \(x.path) has hashes \(hashes), want one of \(x.sha256)")
        }
    }
}

/// Nothing is raised that the fixtures do not expect: each alert matches an expected finding's
/// message and category (several rules may see the same thing, e.g. a marker and a credential path).
@Test(arguments: detectCaptures)
func attackCaptureRaisesNothingElse(_ capture: String) throws {
    let (_, alerts, _) = try detect("detect/\(capture).pcap")
    let expected = expectedFindings(capture)
    for a in alerts {
        let al = a.alert["alert"] as? [String: Any] ?? [:]
        let category = al["category"] as? String ?? ""
        let ok = expected.contains { $0.message == a.message && $0.category == category }
            || allowedExtra(capture, message: a.message, rule: al["rule"] as? String ?? "")
        #expect(ok, "\(capture): unexpected alert on message \(a.message): \(al["rule"] ?? "") \(al["signature"] ?? "")")
    }
}

/// Alerts beyond the fixture author's table that are right all the same, each with its reason.
private func allowedExtra(_ capture: String, message: Int, rule: String) -> Bool {
    switch (capture, rule) {
    // FastMCP answers the unknown-scheme read with an error that echoes the path back.
    case ("client-attacks", let r) where r.hasPrefix("paths.") && message == 37: return true
    default: return false
    }
}

/// Benign sessions of both SDK lines raise no alert at all, with or without a bearer token.
@Test(arguments: ["benign", "benign-noauth", "benign-mcp2"])
func benignCaptureRaisesNoAlert(_ capture: String) throws {
    let (events, alerts, _) = try detect("detect/\(capture).pcap")
    #expect(events.filter { $0["event_type"] as? String == "mcp" }.count >= 20)
    for a in alerts {
        let al = a.alert["alert"] as? [String: Any] ?? [:]
        Issue.record("\(capture): false positive on message \(a.message): \(al["rule"] ?? "") \(al["signature"] ?? "")")
    }
}

/// No secret a detector recognised appears in clear anywhere in the output, payloads included.
@Test(arguments: ["detect/credential-leak.pcap", "detect/client-attacks.pcap", "detect/benign.pcap", "detect/sampling-elicitation.pcap"])
func noSecretIsWrittenInClear(_ capture: String) throws {
    let (_, _, lines) = try detect(capture, payloads: true)
    let url = Repo.fixtures.appendingPathComponent("detect/fake-secrets.json")
    let data = try Data(contentsOf: url)
    var secrets: [String] = []
    func collect(_ v: Any) {
        // Multi-line values (PEM) are checked line by line: JSON output escapes the newlines.
        if let s = v as? String { secrets += s.split(separator: "\n").map(String.init).filter { $0.count >= 12 } }
        if let d = v as? [String: Any] { d.values.forEach(collect) }
        if let a = v as? [Any] { a.forEach(collect) }
    }
    // Only the fake values themselves: the file also lists their hashes, which alerts carry.
    let root = try JSONSerialization.jsonObject(with: data) as? [String: Any]
    collect(root?["values"] ?? [:])
    let output = lines.joined(separator: "\n")
    #expect(!secrets.isEmpty)
    for s in secrets where !s.contains(" ") {
        // JSON escapes "/" nowhere, so the secret would appear verbatim if it leaked.
        #expect(!output.contains(s), "\(capture) leaks a secret: \(s.prefix(8))…")
    }
}
