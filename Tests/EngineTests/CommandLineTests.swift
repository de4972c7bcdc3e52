import Foundation
import Testing

/// The contract's exit statuses and error lines, through the real binary.
@Suite struct CommandLineTests {
    func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-tests-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func replayWritesOnlyJSONLinesAndExitsZero() throws {
        let r = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap")])
        #expect(r.status == 0)
        #expect(r.stderr.isEmpty)
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 31)
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
        let full = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap")]).stdout.split(separator: "\n")
        let path = try temporaryFile("cut.pcap", Array(whole.prefix(whole.count * 2 / 3 + 7)))
        let r = try runBinary(["-r", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("cut short"))
        let lines = r.stdout.split(separator: "\n")
        let mcp = lines.filter { $0.contains(#""event_type":"mcp""#) }
        #expect(mcp.count > 5)
        // The messages before the cut are exactly those of the whole capture.
        for (a, b) in zip(mcp.dropLast(), full) { #expect(a == b) }
        #expect(lines.last?.contains(#""event_type":"stats""#) == true)
    }

    @Test func manyFilesAreOneTimeline() throws {
        let one = try runBinary(["-r", Repo.fixture("mcp1-streamable.pcap")]).stdout.split(separator: "\n")
        let two = try runBinary(["-r", Repo.fixture("mcp1-streamable.pcap"), "-r", Repo.fixture("mcp2-streamable.pcap")])
        #expect(two.status == 0)
        let lines = two.stdout.split(separator: "\n")
        #expect(lines.filter { $0.contains(#""event_type":"stats""#) }.count == 1)
        #expect(lines.filter { $0.contains(#""event_type":"mcp""#) }.count == 35 + 30)
        #expect(Array(lines.prefix(35)) == Array(one.prefix(35)))
    }

    @Test func outputFileAndPayloads() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-out-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let out = dir.appendingPathComponent("events.json").path
        try? FileManager.default.removeItem(atPath: out)
        let r = try runBinary(["-r", Repo.fixture("mcp2-streamable.pcap"), "-o", out, "--payloads"])
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 31)
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
