import Foundation
import Testing
import SonarDetect
@testable import SonarEngine

/// Egress and exposure on the namespace recording and the crafted captures of Fixtures/egress
/// (expected findings in Fixtures/egress/expected-findings.json), with `allowed.test` allowed.
private func egressRun(_ capture: String, allow: [String] = ["allowed.test"]) throws -> [[String: Any]] {
    let sink = MemorySink()
    var config = EngineConfig()
    var detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    for a in allow { _ = detection.egress.allow(a) }
    config.detection = detection
    let engine = Engine(config: config, sink: sink)
    _ = try Runner(engine: engine).replay(files: [Repo.fixture("egress/\(capture).pcap")], diagnostics: { _ in })
    return sink.lines.map(jsonObject)
}

private func expectations(_ capture: String) -> [String: Any] {
    let url = Repo.fixtures.appendingPathComponent("egress/expected-findings.json")
    guard let data = try? Data(contentsOf: url), let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
          let captures = root["captures"] as? [String: Any] else { return [:] }
    return captures[capture] as? [String: Any] ?? [:]
}

private let egressCaptures = ["netns-egress", "dns-tcp", "clienthello-split", "no-sni", "ipv6-egress"]

@Test(arguments: egressCaptures)
func egressAlertsAreExactlyTheExpectedOnes(_ capture: String) throws {
    let events = try egressRun(capture)
    let got = events.filter { ($0["alert"] as? [String: Any])?["category"] as? String == "egress" }.map { e -> String in
        let g = e["egress"] as? [String: Any] ?? [:]
        return "\(e["src_ip"] ?? "") \(e["dest_ip"] ?? ""):\(e["dest_port"] ?? "") \(g["via"] ?? "") \(g["host"] ?? "")"
    }.sorted()
    let want = (expectations(capture)["egress"] as? [[String: Any]] ?? []).map { x -> String in
        let name = x["evidence"] as? String == "ip" ? "\(x["dest_ip"] ?? "")" : "\(x["name"] ?? "")"
        return "\(x["server"] ?? "") \(x["dest_ip"] ?? ""):\(x["dest_port"] ?? "") \(x["evidence"] ?? "") \(name)"
    }.sorted()
    #expect(!want.isEmpty)
    #expect(got == want)
}

/// The three exposure findings of every capture, once each for the server (and the answer to
/// initialize given to a remote client without Authorization).
@Test(arguments: egressCaptures)
func exposureFindingsOncePerServer(_ capture: String) throws {
    let rules = try egressRun(capture).compactMap { e -> String? in
        guard let a = e["alert"] as? [String: Any], a["category"] as? String == "exposure" else { return nil }
        return a["rule"] as? String
    }.sorted()
    #expect(rules == ["exposure.cleartext-session", "exposure.no-authorization", "exposure.served-beyond-loopback",
                      "exposure.unauthenticated-answer"])
}

/// Without the allow-list every outbound connection of the MCP server host is reported (the
/// resolver excepted); loopback-only sessions raise no egress or exposure alert at all.
@Test func withoutAllowListEverythingOutboundIsReported() throws {
    let hosts = try egressRun("netns-egress", allow: []).compactMap { e -> String? in
        guard (e["alert"] as? [String: Any])?["category"] as? String == "egress" else { return nil }
        return (e["egress"] as? [String: Any])?["host"] as? String
    }.sorted()
    #expect(hosts == ["api.allowed.test", "api.allowed.test", "tracker.evil.test"]) // :443 and :80
}

@Test(arguments: ["mcp1-streamable.pcap", "mcp2-streamable.pcap", "mcp1-websocket.pcap", "detect/benign.pcap"])
func loopbackSessionsRaiseNoEgressOrExposure(_ capture: String) throws {
    let lines = try runSensor([Repo.fixture(capture)])
    #expect(!lines.contains { $0.contains(#""category":"egress""#) || $0.contains(#""category":"exposure""#) })
}

/// Every connection ends with a `flow` event naming what the sensor learnt of it.
@Test func flowEventsNameDestinations() throws {
    let flows = try egressRun("netns-egress").filter { $0["event_type"] as? String == "flow" }
    let tls = flows.filter { $0["app_proto"] as? String == "tls" }.compactMap { ($0["names"] as? [String: Any])?["tls_sni"] as? String }.sorted()
    #expect(tls == ["api.allowed.test", "tracker.evil.test"])
    let http = flows.filter { ($0["names"] as? [String: Any])?["http_host"] as? String == "api.allowed.test" }
    #expect(http.count == 1)
    #expect(flows.contains { $0["app_proto"] as? String == "dns" && $0["proto"] as? String == "UDP" })
    let evil = flows.first { ($0["names"] as? [String: Any])?["tls_sni"] as? String == "tracker.evil.test" }
    #expect((evil?["flow"] as? [String: Any])?["alerted"] as? Bool == true)
    #expect(((evil?["names"] as? [String: Any])?["dns"] as? String) == "tracker.evil.test")
}

/// The egress alert names the tool call on that server that preceded the connection.
@Test func egressAlertCarriesThePrecedingToolCall() throws {
    let alert = try egressRun("netns-egress").first { ($0["alert"] as? [String: Any])?["category"] as? String == "egress" }
    let mcp = alert?["mcp"] as? [String: Any]
    #expect(mcp?["method"] as? String == "tools/call")
    #expect(mcp?["tool"] as? String == "search")
    #expect((alert?["egress"] as? [String: Any])?["via"] as? String == "tls-sni")
}

/// A remote client's `initialize` without Authorization is matched with its answer on every
/// transport: a legacy HTTP+SSE server answers the POST on its event stream, another connection
/// (matched by flow and id, such answers were never found). The benchmark corpus's copies of the
/// loopback recordings put the server and its clients beyond loopback.
@Test(arguments: ["mcp1-legacy-sse.pcap", "mcp1-streamable.pcap"])
func unauthenticatedAnswerIsFoundOnEveryTransport(_ fixture: String) throws {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-exposure-\(getpid())-\(fixture)").path
    defer { try? FileManager.default.removeItem(atPath: path) }
    var options = CorpusOptions(size: 400_000, seed: 7, fixtures: [Repo.fixture(fixture)])
    options.concurrentFlows = 10
    let report = try Corpus.generate(options, to: path)
    let events = try runSensor([path]).map(jsonObject)
    let exposure = events.compactMap { e -> (rule: String, what: String)? in
        guard let a = e["alert"] as? [String: Any], a["category"] as? String == "exposure",
              let rule = a["rule"] as? String, let what = (e["evidence"] as? [String: Any])?["redacted"] as? String else { return nil }
        return (rule, what)
    }
    let served = exposure.filter { $0.rule == "exposure.served-beyond-loopback" }.map(\.what)
    let answered = exposure.filter { $0.rule == "exposure.unauthenticated-answer" }.map(\.what)
    // One server, copied to one address; its answers to initialize are matched with their requests.
    #expect(served.count == 1)
    #expect(answered == served)
    let initializeAnswers = events.filter {
        let m = $0["mcp"] as? [String: Any]
        return $0["event_type"] as? String == "mcp" && m?["kind"] as? String == "response" && m?["method"] as? String == "initialize"
    }
    // Every copy's initialize was answered and paired, several clients' copies in all.
    #expect(report.copies.count == 1 && report.copies[0] > 1)
    #expect(initializeAnswers.count == report.copies.first)
}
