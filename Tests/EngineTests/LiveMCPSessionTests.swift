import Foundation
import Testing

/// A real MCP session of the official Python SDK (server and client, mcp 1.30.0, Streamable HTTP),
/// captured live on `lo` while tcpdump records the same traffic: the live events must be exactly
/// the events of a replay of tcpdump's file, every line complete, every message there.
@Suite(.serialized) struct LiveMCPSessionTests {
    static var python: String {
        let root = ProcessInfo.processInfo.environment["MCPSONAR_VENVS"].map { URL(fileURLWithPath: $0) } ?? Repo.root
        return root.appendingPathComponent(".venv-mcp1/bin/python").path
    }

    @Test func realSDKSessionLiveIsExactlyTheReplayOfTheSameTraffic() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            Issue.record("no MCP SDK venv at \(Self.python): run `bash scripts/setup.sh` first")
            return
        }
        let port = LiveCaptureTests.freePort()
        let dir = try temporaryDirectory("live-mcp")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("live.json").path
        let pcap = dir.appendingPathComponent("tcpdump.pcap").path

        let sensor = try SensorProcess(["-i", "lo", "--workers", "2", "-o", out, "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let tcpdumpLog = dir.appendingPathComponent("tcpdump.log").path
        FileManager.default.createFile(atPath: tcpdumpLog, contents: nil)
        let tcpdump = Process()
        tcpdump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tcpdump.arguments = ["tcpdump", "-i", "lo", "-Z", "root", "-U", "-s", "0", "-w", pcap, "tcp port \(port)"]
        tcpdump.standardOutput = FileHandle.nullDevice
        tcpdump.standardError = FileHandle(forWritingAtPath: tcpdumpLog)
        try tcpdump.run()
        defer { tcpdump.kill() }
        #expect(SensorProcess.wait(10) { ((try? String(contentsOfFile: tcpdumpLog, encoding: .utf8)) ?? "").contains("listening on") })

        let scripts = Repo.root.appendingPathComponent("scripts/fixtures")
        let server = Process()
        server.executableURL = URL(fileURLWithPath: Self.python)
        server.arguments = [scripts.appendingPathComponent("mcp_server.py").path, "--port", String(port)]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.kill() }
        #expect(SensorProcess.wait(30) { isListening(port: port) })

        let client = Process()
        client.executableURL = URL(fileURLWithPath: Self.python)
        client.arguments = [scripts.appendingPathComponent("mcp_client.py").path, "--url", "http://127.0.0.1:\(port)/mcp"]
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        client.waitUntilExit()
        #expect(client.terminationStatus == 0, "the SDK client completed its session")
        Thread.sleep(forTimeInterval: 0.5) // the last FIN/ACKs cross
        server.kill()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(sensor.stop() < 3, "stops within a second or two of SIGINT")
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")
        tcpdump.kill() // -U wrote every packet as it came

        let live = readLines(out)
        for line in live { #expect(!jsonObject(line).isEmpty, "an incomplete JSON line: \(line)") }
        let replay = try runBinary(["-r", pcap])
        #expect(replay.status == 0, "\(replay.stderr)")
        let replayed = replay.stdout.split(separator: "\n").map(String.init)

        func messages(_ lines: [String]) -> [String] {
            lines.filter { ["mcp", "alert"].contains(jsonObject($0)["event_type"] as? String ?? "") }
        }
        let liveMessages = messages(live)
        let replayMessages = messages(replayed)
        #expect(liveMessages.count == replayMessages.count)
        // Each packet socket stamps its own copy of a packet: tcpdump's times may differ from the
        // sensor's by a microsecond, so times (and latencies) are compared within a millisecond,
        // everything else exactly.
        for (i, (a, b)) in zip(liveMessages, replayMessages).enumerated() where withoutTimes(a) != withoutTimes(b) {
            Issue.record("event \(i) differs:\nlive:   \(a)\nreplay: \(b)")
            break
        }
        for (a, b) in zip(liveMessages, replayMessages) {
            let ta = parseTimestamp(jsonObject(a)["timestamp"] as? String ?? "")
            let tb = parseTimestamp(jsonObject(b)["timestamp"] as? String ?? "")
            #expect(abs(ta - tb) < 0.001, "\(a.prefix(60)) / \(b.prefix(60))")
            let la = (jsonObject(a)["mcp"] as? [String: Any])?["latency_ms"] as? Double
            let lb = (jsonObject(b)["mcp"] as? [String: Any])?["latency_ms"] as? Double
            #expect((la == nil) == (lb == nil))
            if let la, let lb { #expect(abs(la - lb) < 1) }
        }
        let mcp = events(live, type: "mcp")
        let methods = Set(mcp.compactMap { ($0["mcp"] as? [String: Any])?["method"] as? String })
        #expect(methods.isSuperset(of: ["initialize", "notifications/initialized", "tools/list", "tools/call",
                                        "resources/list", "resources/read", "prompts/list", "prompts/get", "ping"]),
                "\(methods.sorted())")
        let requests = mcp.filter { ($0["mcp"] as? [String: Any])?["kind"] as? String == "request" }
        let answers = mcp.filter { ["response", "error"].contains(($0["mcp"] as? [String: Any])?["kind"] as? String ?? "") }
        #expect(requests.count == answers.count, "every request of the session answered")
        #expect(requests.count >= 12)
        let last = jsonObject(live.last ?? "")
        #expect(last["event_type"] as? String == "stats")
        #expect((last["stats"] as? [String: Any])?["kernel_drops"] as? Int == 0)
    }
}

/// Seconds of an event's `2026-11-24T15:47:09.123456+0000` timestamp, for comparisons.
func parseTimestamp(_ text: String) -> Double {
    let parts = text.split(separator: ".")
    guard parts.count == 2 else { return 0 }
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "UTC")
    f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
    let micros = Double(parts[1].prefix(6)) ?? 0
    return (f.date(from: String(parts[0]))?.timeIntervalSince1970 ?? 0) + micros / 1e6
}

/// An event without its timestamp and latency (the two fields that come from packet times).
func withoutTimes(_ line: String) -> String {
    var o = jsonObject(line)
    o["timestamp"] = nil
    if var m = o["mcp"] as? [String: Any] {
        m["latency_ms"] = nil
        o["mcp"] = m
    }
    let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}
