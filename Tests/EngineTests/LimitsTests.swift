import Foundation
import Testing
@testable import SonarDetect
@testable import SonarEngine

/// Every limit by name (docs/limits.md): values, the `--limits` file, `--limit`, refusals, and
/// the alerts a breach raises on a real MCP session.
struct LimitsTests {
    @Test func valuesTakeBinarySuffixes() {
        #expect(Limits.parseValue("65536") == 65536)
        #expect(Limits.parseValue("64KiB") == 65536)
        #expect(Limits.parseValue("4 MiB") == 4 << 20)
        #expect(Limits.parseValue("1GiB") == 1 << 30)
        #expect(Limits.parseValue("1_000_000") == 1_000_000)
        #expect(Limits.parseValue("") == nil)
        #expect(Limits.parseValue("-1") == nil)
        #expect(Limits.parseValue("1.5MiB") == nil)
        #expect(Limits.parseValue("64kb") == nil)
        #expect(Limits.parseValue("1__0") == nil)
        #expect(Limits.parseValue("99999999999999999999") == nil)
        #expect(Limits.parseValue("9999999999999GiB") == nil)
    }

    @Test func everyLimitIsNamedOnceAndItsDefaultIsInRange() {
        let all = Limits.all
        #expect(Set(all.map(\.name)).count == all.count)
        #expect(all.count == 50)
        let defaults = EngineConfig()
        for spec in all {
            let v = spec.value(in: defaults)
            #expect(v >= spec.minimum && v <= spec.maximum, "\(spec.name) default \(v)")
        }
    }

    @Test func docsListEveryLimit() throws {
        let doc = try String(contentsOf: Repo.root.appendingPathComponent("docs/limits.md"), encoding: .utf8)
        for spec in Limits.all { #expect(doc.contains("`\(spec.name)`"), "\(spec.name) is not in docs/limits.md") }
    }

    @Test func assignmentsSetTheConfiguration() throws {
        var c = EngineConfig()
        try Limits.apply("http.max_header_bytes=16KiB", to: &c)
        try Limits.apply("flow.max_flows = 1000", to: &c)
        try Limits.apply("flow.established_timeout_seconds=30", to: &c)
        try Limits.apply("json.max_depth=32", to: &c)
        try Limits.apply("reassembly.max_pending_bytes_total=1MiB", to: &c)
        try Limits.apply("app.max_buffered_bytes_total=128MiB", to: &c)
        #expect(c.http.maxHeaderBytes == 16384)
        #expect(c.flow.maxFlows == 1000)
        #expect(c.flow.establishedTimeoutSeconds == 30)
        #expect(c.mcp.json.maxDepth == 32)
        #expect(c.flow.reassembly.maxPendingBytesTotal == 1 << 20)
        #expect(c.maxAppBufferedBytesTotal == 128 << 20)
    }

    @Test func badAssignmentsAreRefusedWithAReason() {
        var c = EngineConfig()
        func reason(_ a: String) -> String {
            do { try Limits.apply(a, to: &c); return "accepted" } catch { return error.description }
        }
        #expect(reason("http.max_header_bytes") == "'http.max_header_bytes': expected NAME=VALUE, e.g. http.max_header_bytes=64KiB")
        #expect(reason("http.max_headers=many") == "http.max_headers: 'many' is not a number (an integer, optionally with KiB, MiB or GiB)")
        #expect(reason("json.max_depth=0") == "json.max_depth: 0 is out of range (1 to 100000)")
        #expect(reason("nope.max=1").hasPrefix("unknown limit 'nope.max' (sections: decode, flow, reassembly, http, websocket, lines, json, app, mcp, output, pcap_alerts)"))
        #expect(reason("json.depth=3") == "unknown limit 'json.depth' (known: json.max_bytes, json.max_depth, json.max_elements, json.max_string_bytes)")
        #expect(c.mcp.json.maxDepth == 128) // nothing refused was applied
    }

    @Test func limitsFileSectionsAndDottedNames() throws {
        var c = EngineConfig()
        try Limits.load(yaml: """
            # comment
            http:
              max_header_bytes: 32KiB
              max_body_bytes: 1MiB
            websocket:
              max_frame_bytes: 65536
            json.max_elements: 5000
            """, file: "limits.yml", into: &c)
        #expect(c.http.maxHeaderBytes == 32 << 10)
        #expect(c.http.maxBodyBytes == 1 << 20)
        #expect(c.webSocket.maxFrameBytes == 65536)
        #expect(c.mcp.json.maxElements == 5000)
        var empty = EngineConfig()
        try Limits.load(yaml: "", file: "empty.yml", into: &empty)
        #expect(empty.http == EngineConfig().http)
    }

    @Test func limitsFileErrorsSayWhere() {
        func error(_ yaml: String) -> String {
            var c = EngineConfig()
            do { try Limits.load(yaml: yaml, file: "l.yml", into: &c); return "accepted" } catch { return error.description }
        }
        #expect(error("http:\n  max_header_bytes: 1KiB\n  max_hdrs: 3\n").hasPrefix("l.yml:3:3: unknown limit 'http.max_hdrs' (known: "))
        #expect(error("http:\n  max_headers: lots\n") == "l.yml:2:16: http.max_headers: 'lots' is not a number (an integer, optionally with KiB, MiB or GiB)")
        #expect(error("tcp:\n  x: 1\n") == "l.yml:1:1: unknown section 'tcp' (sections: decode, flow, reassembly, http, websocket, lines, json, app, mcp, output, pcap_alerts)")
        #expect(error("http: 3\n") == "l.yml:1:7: section http must be a mapping of limits")
        #expect(error("- 1\n") == "l.yml:1:1: a limits file is a mapping of sections (decode, flow, reassembly, http, websocket, lines, json, app, mcp, output, pcap_alerts)")
        #expect(error("http:\n  max_headers: [1]\n") == "l.yml:2:16: http.max_headers must be a number")
        #expect(error("http: {max_headers: 1\n").hasPrefix("l.yml:2:1: invalid YAML"))
    }

    @Test func commandLineRefusesUnknownLimitsAndBadFiles() throws {
        let fixture = Repo.fixture("mcp1-streamable-json.pcap")
        let unknown = try runBinary(["-r", fixture, "--limit", "http.max_hdr=3"])
        #expect(unknown.status == 2)
        #expect(unknown.stdout.isEmpty)
        #expect(unknown.stderr.hasPrefix("mcpsonar: --limit unknown limit 'http.max_hdr' (known: http.max_header_bytes,"))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-limits-\(getpid()).yml").path
        try "json:\n  max_depth: -4\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let bad = try runBinary(["-r", fixture, "--limits", path])
        #expect(bad.status == 2)
        #expect(bad.stderr == "mcpsonar: invalid limits: \(path):2:14: json.max_depth: '-4' is not a number (an integer, optionally with KiB, MiB or GiB)\n")
        let missing = try runBinary(["bench", "-r", fixture, "--passes", "1", "--limits", "/nonexistent/limits.yml"])
        #expect(missing.status == 2)
        #expect(missing.stderr == "mcpsonar: invalid limits: /nonexistent/limits.yml:0:0: cannot read the file\n")
        // Refused before anything is opened: no output file is created.
        let out = scratchDirectory.appendingPathComponent("limits-out.jsonl").path
        let refused = try runBinary(["-r", fixture, "-o", out, "--limit", "json.max_depth=0"])
        #expect(refused.status == 2)
        #expect(refused.stderr == "mcpsonar: --limit json.max_depth: 0 is out of range (1 to 100000)\n")
        #expect(!FileManager.default.fileExists(atPath: out))
        let ok = try runBinary(["-r", fixture, "--limit", "http.max_body_bytes=512", "--limit", "json.max_depth=64"])
        #expect(ok.status == 0)
    }

    /// Alerts as "flow rule" and the stats counters, from a run with `edit` applied.
    static func run(_ edit: (inout EngineConfig) -> Void) throws -> (alerts: [String], counters: [String: [String: Int]]) {
        let sink = MemorySink()
        var config = EngineConfig()
        config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
        edit(&config)
        let engine = Engine(config: config, sink: sink)
        _ = try Runner(engine: engine).replay(files: [Repo.fixture("mcp1-streamable-json.pcap")], diagnostics: { _ in })
        var alerts: [String] = []
        var counters: [String: [String: Int]] = [:]
        for line in sink.lines {
            let o = jsonObject(line)
            if o["event_type"] as? String == "alert" {
                alerts.append("\(o["flow_id"] as? Int ?? 0) \((o["alert"] as? [String: Any])?["rule"] as? String ?? "")")
            }
            if o["event_type"] as? String == "stats" {
                counters = (o["stats"] as? [String: Any])?["counters"] as? [String: [String: Int]] ?? [:]
            }
        }
        return (alerts, counters)
    }

    @Test func bodyOverItsLimitOnAnMCPConnectionIsOneAlert() throws {
        // The tools/list result (1126 bytes) is the only body over 512: not read, said once.
        let r = try Self.run { $0.http.maxBodyBytes = 512 }
        #expect(r.alerts == ["3 protocol.limit-exceeded", "3 method.unknown"])
        #expect(r.counters["http"] == ["body_too_large": 1])
    }

    @Test func jsonOverItsLimitsIsOneAlertPerFlowAndKind() throws {
        let r = try Self.run { $0.mcp.json.maxStringBytes = 10 }
        #expect(r.alerts == ["1 protocol.limit-exceeded", "3 protocol.limit-exceeded"])
        #expect(r.counters["json"] == ["string_too_long": 24])
        #expect(r.counters["mcp"] == ["payload_not_json": 24])
    }

    @Test func headersOverTheirLimitAlertOnEveryMCPConnection() throws {
        let r = try Self.run { $0.http.maxHeaderBytes = 200 }
        #expect(r.alerts.filter { $0.hasSuffix("protocol.limit-exceeded") } == ["1 protocol.limit-exceeded", "2 protocol.limit-exceeded", "3 protocol.limit-exceeded"])
        #expect(r.counters["http"] == ["header_too_large": 18, "resynced": 14])
    }

    @Test func limitAlertsCanBeTurnedOff() throws {
        let r = try Self.run {
            $0.http.maxBodyBytes = 512
            $0.detection?.policy.limitExceeded = nil
        }
        #expect(r.alerts == ["3 method.unknown"])
    }
}
