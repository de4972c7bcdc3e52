import Foundation
import Testing
@testable import SonarEngine

/// Every real capture against the independent oracle (scripts/fixtures/transcript.py: dpkt + h11 +
/// the HTML SSE algorithm), message by message: order, flow, kind, id, method, tool, size, hash, session.
@Test(arguments: Repo.originals())
func fixtureMatchesOracleTranscript(_ name: String) throws {
    try checkAgainstOracle(name)
}

/// Crafted captures (scripts/fixtures/craft_*.py): the cases real SDKs do not produce.
@Test(arguments: Repo.crafted())
func craftedCaptureMatchesOracleTranscript(_ name: String) throws {
    try checkAgainstOracle(name)
}

@Test func webSocketJoinedMidStreamIsReportedNotDecoded() throws {
    let lines = try runSensor([Repo.fixture("crafted/ws-midstream.pcap")])
    #expect(lines.filter { $0.contains(#""event_type":"mcp""#) }.isEmpty)
    let stats = jsonObject(lines.last ?? "")["stats"] as? [String: Any]
    let ws = (stats?["counters"] as? [String: Any])?["websocket"] as? [String: Any]
    #expect(ws?["midstream_not_decodable"] as? Int == 1)
    // ... and, with the detectors on, said as a protocol alert.
    let alerts = lines.filter { $0.contains(#""event_type":"alert""#) }
    #expect(alerts.count == 1)
    #expect(alerts.first?.contains(#""rule":"protocol.transport-anomaly""#) == true)
    #expect(alerts.first?.contains("websocket.midstream_not_decodable") == true)
}

@Test func webSocketCloseMidMessageDropsThePartialMessage() throws {
    let lines = try runSensor([Repo.fixture("crafted/ws-close-mid-message.pcap")])
    let stats = jsonObject(lines.last ?? "")["stats"] as? [String: Any]
    let ws = (stats?["counters"] as? [String: Any])?["websocket"] as? [String: Any]
    #expect(ws?["message_abandoned"] as? Int == 1)
}

/// Compares the sensor's messages with the oracle's transcript of the same capture.
func checkAgainstOracle(_ name: String) throws {
    let base = ((name as NSString).lastPathComponent as NSString).deletingPathExtension
    let expectedPath = Repo.fixtures.appendingPathComponent("expected/\(base).messages.jsonl").path
    let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
        .split(separator: "\n").map { jsonObject(String($0)) }
    let events = try runSensor([Repo.fixture(name)]).map(jsonObject).filter { $0["event_type"] as? String == "mcp" }
    #expect(events.count == expected.count)
    #expect(expected.count > 0 || name.contains("midstream"), "an oracle transcript without messages")
    for (i, (got, want)) in zip(events, expected).enumerated() {
        let m = got["mcp"] as? [String: Any] ?? [:]
        let kind = m["kind"] as? String
        let isRequest = kind == "request" || kind == "notification"
        func s(_ v: Any?) -> String { v.map { "\($0)" } ?? "-" }
        let gotRow = [s(got["flow_id"]), s(got["src_port"]), s(got["dest_port"]), s(m["transport"]), s(kind), s(m["id"]),
                      isRequest ? s(m["method"]) : "-", kind == "request" ? s(m["tool"]) : "-", s(m["size"]),
                      s(m["params_sha256"]), s(m["session_id"])]
        let wantRow = [s(want["flow"]), s(want["src_port"]), s(want["dest_port"]), s(want["transport"]), s(want["kind"]), s(want["id"]),
                       s(want["method"]), s(want["tool"]), s(want["size"]), s(want["params_sha256"]), s(want["session_id"] ?? want["legacy_session_id"])]
        #expect(gotRow == wantRow, "message \(i) of \(name)")
        // A response names the method of the request it answers, when the oracle saw that request.
        if let requestMethod = want["request_method"] as? String, !isRequest {
            #expect(m["method"] as? String == requestMethod, "message \(i) of \(name)")
        }
    }
}

/// The exact event lines of every original, timestamps and latencies included: any change in
/// pairing, session or version tracking, or encoding shows up here. Regenerate with
/// `scripts/update-golden.sh` after checking the difference is intended.
@Test(arguments: Repo.originals())
func fixtureMatchesGoldenEvents(_ name: String) throws {
    let base = (name as NSString).deletingPathExtension
    let goldenPath = Repo.fixtures.appendingPathComponent("expected/\(base).events.jsonl").path
    let golden = try String(contentsOfFile: goldenPath, encoding: .utf8).split(separator: "\n").map { withoutMemory(String($0)) }
    let lines = try runSensor([Repo.fixture(name)]).map(withoutMemory)
    #expect(lines.count == golden.count)
    for (i, (a, b)) in zip(lines, golden).enumerated() where a != b {
        Issue.record("line \(i + 1) of \(name) differs:\n got: \(a)\nwant: \(b)")
    }
}

/// Each hard variant (re-segmented, reordered, other link types, IPv6 in VLANs, pcapng) yields
/// exactly the events of its original, bar timestamps. Two things differ by construction and are
/// normalised: the IPv6 variants carry the client as fd00::1 and the server as fd00::2; the
/// reordered variant keeps each packet's own time, so a message completes with a later packet and
/// its `latency_ms` differs (it must still be there).
@Test(arguments: (Repo.originals() + Repo.crafted()).flatMap { o in Repo.variants(of: o).map { [o, $0] } })
func variantYieldsTheSameEvents(_ pair: [String]) throws {
    let keep = { (line: String) in line.contains(#""event_type":"mcp""#) || line.contains(#""event_type":"alert""#) }
    let original = try runSensor([Repo.fixture(pair[0])]).filter(keep)
    let variant = try runSensor([Repo.fixture(pair[1])]).filter(keep)
    #expect(original.count > 0)
    let reordered = pair[1].contains("-reorder")
    func normalise(_ line: String) -> String {
        var o = jsonObject(line)
        o["timestamp"] = nil
        for key in ["src_ip", "dest_ip"] where o[key] as? String == "fd00::1" || o[key] as? String == "fd00::2" {
            o[key] = "127.0.0.1"
        }
        // Alert text names the server by address: the IPv6 variants name it differently.
        if var a = o["alert"] as? [String: Any], let sig = a["signature"] as? String {
            a["signature"] = sig.replacingOccurrences(of: "[fd00::2]", with: "127.0.0.1")
            o["alert"] = a
        }
        if reordered, var m = o["mcp"] as? [String: Any] {
            if m["latency_ms"] != nil { m["latency_ms"] = "present" }
            o["mcp"] = m
        }
        let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
    // The IPv6 variants move both ends off loopback (fd00::1, fd00::2): unauthenticated MCP to a
    // non-loopback client is then a real exposure, raised there and nowhere in the originals.
    let isIPv6 = pair[1].contains("vlan6") || pair[1].contains("qinq6")
    let exposure = #""category":"exposure""#
    if isIPv6 && original.contains(where: { $0.contains(#""method":"initialize""#) && $0.contains(#""kind":"request""#) && $0.contains(#""transport":"http""#) }) {
        #expect(variant.contains { $0.contains(exposure) }, "\(pair[1]): no exposure alert for unauthenticated MCP beyond loopback")
    }
    let a = original.map(normalise)
    let b = variant.filter { !(isIPv6 && $0.contains(exposure)) }.map(normalise)
    #expect(a.count == b.count, "\(pair[1])")
    for (i, (x, y)) in zip(a, b).enumerated() where x != y {
        Issue.record("event \(i + 1) of \(pair[1]) differs from \(pair[0]):\n original: \(x)\n  variant: \(y)")
    }
}

/// Every Streamable-HTTP original has its full set of hard variants (so the test above cannot pass empty).
@Test func everyStreamableOriginalHasItsVariants() {
    let streamable = Repo.originals().filter { !$0.contains("legacy") }
    #expect(streamable.count >= 6)
    for o in streamable {
        let vs = Repo.variants(of: o)
        #expect(vs.count == variantKinds.count, "\(o) has \(vs.count) variants")
    }
}
