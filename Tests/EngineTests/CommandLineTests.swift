import Foundation
import Testing

/// The contract's exit statuses and error lines, through the real binary.
@Suite struct CommandLineTests {
    @Test func replayWritesOnlyJSONLinesAndExitsZero() throws {
        let r = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap"), "--no-detect"])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n")
        // 30 messages, a flow event for each of the 2 connections, the final stats.
        #expect(lines.count == 33)
        #expect(lines.filter { $0.contains(#""event_type":"mcp""#) }.count == 30)
        #expect(lines.filter { $0.contains(#""event_type":"flow""#) }.count == 2)
        for line in lines { #expect(!jsonObject(String(line)).isEmpty) }
        #expect(lines.last?.contains(#""event_type":"stats""#) == true)
    }

    @Test func missingFileIsOneClearLineAndNonZero() throws {
        let r = try runBinary(["-r", "/nonexistent/capture.pcap"])
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("/nonexistent/capture.pcap"))
    }

    @Test func notACaptureIsRefused() throws {
        let path = try temporaryFile("text.pcap", Array("GET / HTTP/1.1\r\nthis is not a capture\n".utf8))
        let r = try runBinary(["-r", path])
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains(path))
    }

    @Test func emptyFileIsRefused() throws {
        let path = try temporaryFile("empty.pcap", [])
        let r = try runBinary(["-r", path])
        #expect(r.status != 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
    }

    /// A capture cut in the middle of a packet: the events before the damage are all written,
    /// the damage is reported on one line, and the status is non-zero (as tcpdump does).
    @Test func captureCutShortKeepsEventsBeforeTheDamage() throws {
        let whole = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Repo.fixture("mcp2-streamable.pcap"))))
        let full = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap"), "--no-detect"]).stdout.split(separator: "\n")
        let path = try temporaryFile("cut.pcap", Array(whole.prefix(whole.count * 2 / 3 + 7)))
        let r = try runBinary(["-r", path, "--no-detect"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cut short"))
        let lines = r.stdout.split(separator: "\n")
        let mcp = lines.filter { $0.contains(#""event_type":"mcp""#) }
        #expect(mcp.count > 5)
        // The messages before the cut are exactly those of the whole capture.
        for (a, b) in zip(mcp.dropLast(), full.filter { $0.contains(#""event_type":"mcp""#) }) { #expect(a == b) }
        #expect(lines.last?.contains(#""event_type":"stats""#) == true)
    }

    @Test func manyFilesAreOneTimeline() throws {
        let one = try runBinary(["-r", Repo.fixture("mcp1-streamable.pcap"), "--no-detect"]).stdout.split(separator: "\n")
        let two = try runBinary(["-r", Repo.fixture("mcp1-streamable.pcap"), "-r", Repo.fixture("mcp2-streamable.pcap"), "--no-detect"])
        #expect(two.status == 0)
        let lines = two.stdout.split(separator: "\n")
        #expect(lines.filter { $0.contains(#""event_type":"stats""#) }.count == 1)
        #expect(lines.filter { $0.contains(#""event_type":"mcp""#) }.count == 35 + 30)
        #expect(Array(lines.prefix(35)) == Array(one.prefix(35)))
    }

    @Test func outputFileAndPayloads() throws {
        let dir = try scratchSubdirectory("out")
        let out = dir.appendingPathComponent("events.json").path
        try? FileManager.default.removeItem(atPath: out)
        let r = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap"), "-o", out, "--payloads", "--no-detect"])
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 33)
        let first = jsonObject(String(lines[0]))
        let message = (first["mcp"] as? [String: Any])?["message"] as? [String: Any]
        #expect(message?["method"] as? String == "server/discover")
        #expect(message?["jsonrpc"] as? String == "2.0")
    }

    /// The committed bad inputs (scripts/fixtures/bad.py): refused with one line, or read up to
    /// the damage with exactly the messages the oracle found before it.
    @Test(arguments: ["not-a-capture.pcap", "empty.pcap"])
    func unusableFixtureIsRefused(_ name: String) throws {
        let r = try runBinary(["-r", Repo.fixture("bad/" + name)])
        #expect(r.status == 2)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("bad/" + name))
    }

    @Test(arguments: ["truncated.pcap", "truncated-header.pcap"])
    func damagedFixtureIsReadUpToTheDamage(_ name: String) throws {
        let r = try runBinary(["-r", Repo.fixture("bad/" + name)])
        #expect(r.status == 1)
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(r.stderr.contains("cut short"))
        let expected = try String(contentsOfFile: Repo.fixture("expected/bad-truncated.messages.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { jsonObject(String($0)) }
        let events = r.stdout.split(separator: "\n").map { jsonObject(String($0)) }
        let mcp = events.filter { $0["event_type"] as? String == "mcp" }
        #expect(expected.count == 14)
        #expect(mcp.count == expected.count)
        for (got, want) in zip(mcp, expected) {
            let m = got["mcp"] as? [String: Any] ?? [:]
            #expect("\(m["kind"] ?? "")" == "\(want["kind"] ?? "")")
            #expect("\(m["id"] ?? "-")" == "\(want["id"] ?? "-")")
            #expect("\(m["size"] ?? "")" == "\(want["size"] ?? "")")
            #expect("\(m["params_sha256"] ?? "-")" == "\(want["params_sha256"] ?? "-")")
        }
        #expect(events.last?["event_type"] as? String == "stats")
    }
}

/// Rules on the command line: validation, refusal at start, pins.
@Suite struct RulesCommandLineTests {
    func temporaryDirectory(_ name: String) throws -> URL {
        try? FileManager.default.removeItem(at: scratchDirectory.appendingPathComponent("rules-\(name)"))
        return try scratchSubdirectory("rules-\(name)")
    }

    @Test func shippedRulesCheckOK() throws {
        let r = try runBinary(["rules", "check"])
        #expect(r.status == 0)
        #expect(r.stdout.contains(": OK: "))
    }

    /// A broken rule file: `rules check` prints file, line and reason; the sensor refuses to start.
    @Test func brokenRuleIsRefusedWithFileAndLine() throws {
        let dir = try temporaryDirectory("broken")
        let file = dir.appendingPathComponent("bad.yml").path
        try Data("title: t\nid: x-1\nsignature_id: 999001\ncategory: method\nlevel: low\nlogsource: {product: mcpsonar, category: mcp}\ndetection:\n  selection:\n    mcp.method|nosuchmodifier: ping\n  condition: selection\n".utf8).write(to: URL(fileURLWithPath: file))
        let check = try runBinary(["rules", "check", file])
        #expect(check.status == 1)
        #expect(check.stdout.hasPrefix(file + ":9:"))
        let run = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap"), "--rules", file])
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.contains(file + ":9:"))
    }

    /// `pins` writes the inventory a capture shows; with it as --pins, the same capture raises no
    /// pin alert, and a capture whose tools changed does.
    @Test func pinsRoundTrip() throws {
        let dir = try temporaryDirectory("pins")
        let pins = dir.appendingPathComponent("pins.json").path
        let w = try runBinary(["pins", "-r", Repo.fixture("detect/rug-pull.pcap"), "-o", pins])
        #expect(w.status == 0)
        let text = try String(contentsOfFile: pins, encoding: .utf8)
        #expect(text.contains(#""name":"detect-rugpull""#))
        #expect(text.contains(#""search":""#))
        let clean = try runBinary(["-r", Repo.fixture("detect/benign-noauth.pcap"), "--pins", pins])
        #expect(clean.status == 0)
        // The benign server is another server: every one of its tools is unpinned.
        #expect(clean.stdout.contains("tool-change.not-pinned"))
        let same = try runBinary(["-r", Repo.fixture("detect/rug-pull.pcap"), "--pins", pins])
        // The pins hold the final inventory: the poisoned `search` (its first definition differs
        // from the pin) and no `add` (removed by the end, so unpinned when first listed).
        let lines = same.stdout.split(separator: "\n").filter { $0.contains(#""event_type":"alert""#) }
        #expect(lines.filter { $0.contains("tool-change.pin-mismatch") && $0.contains("'search'") }.count == 1)
        #expect(lines.filter { $0.contains("tool-change.not-pinned") }.count == 1)
        #expect(lines.filter { $0.contains("tool-change.not-pinned") && $0.contains("'add'") }.count == 1)
    }
}
