import Foundation
import SonarCapture
import SonarCore
import SonarEngine
import Testing

/// The sensor as an operator runs it: a child process with arguments, its standard error in a
/// file (a pipe could fill and block it), signals, and its exit.
final class SensorProcess {
    let process = Process()
    let stderrPath: String

    init(_ arguments: [String], directory: URL) throws {
        stderrPath = directory.appendingPathComponent("stderr-\(UUID().uuidString).txt").path
        FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Repo.binary)
        process.arguments = arguments
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }

    var pid: Int32 { process.processIdentifier }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ signo: Int32) { kill(process.processIdentifier, signo) }

    /// Stops it with SIGINT and waits; the seconds it took.
    @discardableResult
    func stop() -> Double {
        let asked = Date()
        signal(SIGINT)
        process.waitUntilExit()
        return Date().timeIntervalSince(asked)
    }

    /// Waits until `condition` holds (polling), at most `seconds`.
    static func wait(_ seconds: Double, until condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return condition()
    }
}

/// A new directory of its own under the test process's scratch directory (its callers remove it).
func temporaryDirectory(_ name: String) throws -> URL {
    try scratchSubdirectory("\(name)-\(UUID().uuidString.prefix(8))")
}

func readLines(_ path: String) -> [String] {
    ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
}

/// A POSTed JSON-RPC request to a local port, from Python's standard library (no MCP SDK needed).
func postJSONRPC(port: Int, ids: ClosedRange<Int>, method: String = "tools/list") throws {
    let script = """
    import json, sys, urllib.request
    port, first, last, method = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    for i in range(first, last + 1):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="POST",
            data=json.dumps({"jsonrpc": "2.0", "id": i, "method": method}).encode(),
            headers={"content-type": "application/json", "accept": "application/json, text/event-stream"})
        urllib.request.urlopen(req).read()
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, String(port), String(ids.lowerBound), String(ids.upperBound), method]
    try p.run()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0)
}

/// A JSON-RPC-over-HTTP echo server (Python standard library) answering every POST with an
/// empty tools list; stopped by `terminate()`.
func startJSONRPCServer(port: Int) throws -> Process {
    let script = """
    import http.server, json, sys
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": {"tools": []}}).encode()
            self.send_response(200); self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
        def log_message(self, *a): pass
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script, String(port)]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    _ = SensorProcess.wait(5) { isListening(port: port) }
    return p
}

extension Process {
    /// SIGKILL: a child inherits the test runner's blocked signal mask, so SIGTERM may never land.
    func kill() {
        if isRunning { Glibc.kill(processIdentifier, SIGKILL) }
        waitUntilExit()
    }
}

func isListening(port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    return rc == 0
}

func events(_ lines: [String], type: String) -> [[String: Any]] {
    lines.map(jsonObject).filter { $0["event_type"] as? String == type }
}

/// Replay-side operations: forensic capture of alerted flows, the progress line, interface list.
@Suite struct ReplayOperationsTests {
    /// `--pcap-alerts`: a file for exactly the flows that raised alerts, each holding every packet
    /// of its flow from the first; replaying a file alone shows that flow and its alerts again.
    @Test func pcapAlertsKeepsEveryPacketOfEachAlertedFlow() throws {
        let dir = try temporaryDirectory("pcap-alerts")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runBinary(["-r", Repo.fixture("detect/credential-leak.pcap"), "--pcap-alerts", dir.path])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        var alertsByFlow: [Int: [Int]] = [:]
        for a in events(lines, type: "alert") {
            let id = a["flow_id"] as? Int ?? -1
            alertsByFlow[id, default: []].append((a["alert"] as? [String: Any])?["signature_id"] as? Int ?? 0)
        }
        #expect(alertsByFlow.keys.sorted() == [5, 6, 7, 8])
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(files == ["flow-5.pcap", "flow-6.pcap", "flow-7.pcap", "flow-8.pcap"])
        let flows = Dictionary(uniqueKeysWithValues: events(lines, type: "flow").map { ($0["flow_id"] as? Int ?? -1, $0) })
        for (id, signatures) in alertsByFlow {
            let replay = try runBinary(["-r", dir.appendingPathComponent("flow-\(id).pcap").path])
            #expect(replay.status == 0)
            let again = replay.stdout.split(separator: "\n").map(String.init)
            let replayedFlows = events(again, type: "flow")
            #expect(replayedFlows.count == 1)
            let original = flows[id]?["flow"] as? [String: Any]
            let copy = replayedFlows.first?["flow"] as? [String: Any]
            #expect(copy?["pkts_toserver"] as? Int == original?["pkts_toserver"] as? Int)
            #expect(copy?["pkts_toclient"] as? Int == original?["pkts_toclient"] as? Int)
            #expect(copy?["bytes_toserver"] as? Int == original?["bytes_toserver"] as? Int)
            #expect(copy?["bytes_toclient"] as? Int == original?["bytes_toclient"] as? Int)
            let replayedSignatures = events(again, type: "alert").map { ($0["alert"] as? [String: Any])?["signature_id"] as? Int ?? 0 }
            #expect(replayedSignatures == signatures, "flow \(id)")
        }
        let stats = events(lines, type: "stats").last?["stats"] as? [String: Any]
        let counters = (stats?["counters"] as? [String: Any])?["pcap_alerts"] as? [String: Any]
        #expect(counters?["files"] as? Int == 4)
    }

    /// With no room to hold a flow's head, a file starts at the alert: it is said to be
    /// incomplete, and every flow whose head did not fit is counted.
    @Test func pcapAlertsBoundedHeadIsCounted() throws {
        let dir = try temporaryDirectory("pcap-alerts-bounded")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try runBinary(["-r", Repo.fixture("detect/credential-leak.pcap"), "--pcap-alerts", dir.path,
                               "--limit", "pcap_alerts.max_flow_buffer_bytes=0"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        let counters = ((events(lines, type: "stats").last?["stats"] as? [String: Any])?["counters"] as? [String: Any])?["pcap_alerts"] as? [String: Any]
        #expect(counters?["files"] as? Int == 4)
        #expect(counters?["files_incomplete"] as? Int == 4)
        #expect(counters?["flow_buffer_full"] as? Int == 10, "every flow of the capture")
        let flows = Dictionary(uniqueKeysWithValues: events(lines, type: "flow").map { ($0["flow_id"] as? Int ?? -1, $0["flow"] as? [String: Any]) })
        for id in [5, 6, 7, 8] {
            let replay = try runBinary(["-r", dir.appendingPathComponent("flow-\(id).pcap").path, "--no-detect"])
            let copy = events(replay.stdout.split(separator: "\n").map(String.init), type: "flow").first?["flow"] as? [String: Any]
            let kept = (copy?["pkts_toserver"] as? Int ?? 0) + (copy?["pkts_toclient"] as? Int ?? 0)
            let all = (flows[id]??["pkts_toserver"] as? Int ?? 0) + (flows[id]??["pkts_toclient"] as? Int ?? 0)
            #expect(kept > 0 && kept < all, "flow \(id): \(kept) of \(all) packets, from the alert on")
        }
    }

    @Test func pcapAlertsRefusesADirectoryThatIsMissing() throws {
        let r = try runBinary(["-r", Repo.fixture("detect/benign.pcap"), "--pcap-alerts", "/nonexistent/mcpsonar-alerts"])
        #expect(r.status == 2)
        #expect(r.stderr == "mcpsonar: --pcap-alerts /nonexistent/mcpsonar-alerts: not a directory\n")
        #expect(r.stdout.isEmpty)
    }

    /// On a terminal the replay shows a progress line on standard error (erased at the end);
    /// off a terminal, and with --quiet, standard error stays empty.
    @Test func progressLineOnlyOnATerminal() throws {
        let files = Array(repeating: ["-r", Repo.fixture("mcp1-streamable.pcap")], count: 300).flatMap { $0 }
        let dir = try temporaryDirectory("progress")
        defer { try? FileManager.default.removeItem(at: dir) }
        let transcript = dir.appendingPathComponent("tty.txt").path
        // `script` gives the sensor a pseudo-terminal; its standard output goes to a file.
        let command = ([Repo.binary] + files + ["-o", dir.appendingPathComponent("out.json").path]).joined(separator: " ")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        p.arguments = ["-qfec", command, transcript]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        let tty = (try? String(contentsOfFile: transcript, encoding: .utf8)) ?? ""
        // The last drawing of the line, and what follows it: the erase.
        let drawn = tty.components(separatedBy: "\r\u{1B}[K").filter { $0.hasPrefix("mcpsonar: ") }
        let last = drawn.last ?? ""
        #expect(last.hasPrefix("mcpsonar: "), "no progress line on the terminal")
        #expect(last.contains(" MB of "), "bytes of the total")
        #expect(last.contains("%), "), "a percentage of the input")
        #expect(last.contains(" MB/s, "))
        #expect(last.hasSuffix(" events"), "\(last.prefix(200))")
        let afterLast = tty.components(separatedBy: last).last ?? ""
        #expect(afterLast.hasPrefix("\r\u{1B}[K"), "the line is erased at the end")

        let plain = try runBinary(files)
        #expect(plain.status == 0)
        #expect(plain.stderr.isEmpty)
    }

    @Test func progressLineFormat() {
        #expect(ReplayProgress.line(bytesRead: 12_345_678, totalBytes: 40_000_000, seconds: 0.5, events: 4812)
            == "mcpsonar: 12.3 MB of 40.0 MB (30.9%), 24.7 MB/s, 4,812 events")
    }

    @Test func listInterfacesShowsLoopback() throws {
        let r = try runBinary(["--list-interfaces"])
        #expect(r.status == 0)
        let lo = r.stdout.split(separator: "\n").first { $0.contains(".lo [") }
        #expect(lo?.contains("[Up, Running, Loopback] 127.0.0.1") == true, "\(r.stdout)")
    }

    /// SIGINT during a replay: what was read is finished (flows, final stats), exit 1 with a line.
    @Test func interruptedReplayFinishesWhatItReadAndSaysSo() throws {
        let dir = try temporaryDirectory("interrupt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.json").path
        let files = Array(repeating: ["-r", Repo.fixture("mcp1-streamable.pcap")], count: 800).flatMap { $0 }
        let sensor = try SensorProcess(files + ["-o", out], directory: dir)
        // (Parsing 1,600 arguments takes swift-argument-parser a few seconds in a debug build.)
        #expect(SensorProcess.wait(30) { readLines(out).count > 100 })
        let seconds = sensor.stop()
        #expect(seconds < 3)
        #expect(sensor.process.terminationStatus == 1)
        #expect(sensor.stderr.hasSuffix("mcpsonar: interrupted: the replay stopped before the end of its input; events up to that point were written\n"))
        let lines = readLines(out)
        for line in lines { #expect(!jsonObject(line).isEmpty, "an incomplete JSON line: \(line)") }
        #expect(jsonObject(lines.last ?? "")["event_type"] as? String == "stats")
    }
}

/// Live operations on `lo` (CI runs as root): stats on a timer and on SIGUSR1, SIGHUP, privileges.
@Suite(.serialized) struct LiveOperationsTests {
    @Test func statsOnATimerAndOnSIGUSR1() throws {
        let port = LiveCaptureTests.freePort()
        let dir = try temporaryDirectory("stats")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.json").path
        let sensor = try SensorProcess(["-i", "lo", "--workers", "3", "-o", out, "--stats-interval", "0.5", "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }
        try postJSONRPC(port: port, ids: 1...2)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "stats").count >= 3 })
        let before = events(readLines(out), type: "stats").count
        sensor.signal(SIGUSR1)
        #expect(SensorProcess.wait(2) { events(readLines(out), type: "stats").count > before })
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")
        let lines = readLines(out)
        for line in lines { #expect(!jsonObject(line).isEmpty, "an incomplete JSON line: \(line)") }
        let stats = events(lines, type: "stats")
        #expect(stats.count >= 5)
        #expect(events(lines, type: "mcp").count == 4)
        for s in stats {
            let body = s["stats"] as? [String: Any]
            #expect(body?["kernel_drops"] as? Int == 0)
            #expect(body?["interface_drops"] as? Int == 0)
            #expect((body?["memory_bytes"] as? Int ?? 0) > 0)
            let output = body?["output"] as? [String: Any]
            #expect(output?["dropped"] as? Int == 0)
            #expect(output?["sink_dropped"] as? Int == 0)
        }
        // Stats stamps never go backwards, and the last one counts every event before it.
        let times = stats.compactMap { $0["timestamp"] as? String }
        #expect(times == times.sorted())
        let last = stats.last?["stats"] as? [String: Any]
        #expect((last?["events"] as? [String: Any])?["mcp"] as? Int == 4)
        // Every event before the final stats was accepted: written by then, or still queued.
        let output = last?["output"] as? [String: Any]
        #expect((output?["written"] as? Int ?? 0) + (output?["queued"] as? Int ?? 0) == lines.count - 1)
    }

    /// SIGHUP after logrotate renamed the file: later events go to a new file at the old path.
    /// The rules are reloaded: a bad set is refused (the old one stays, said on standard error);
    /// a good set with a new rule takes effect for the traffic after it.
    @Test func sighupReopensTheOutputAndReloadsRules() throws {
        let port = LiveCaptureTests.freePort()
        let dir = try temporaryDirectory("sighup")
        defer { try? FileManager.default.removeItem(at: dir) }
        let rules = dir.appendingPathComponent("rules")
        try FileManager.default.copyItem(at: Repo.root.appendingPathComponent("rules"), to: rules)
        let out = dir.appendingPathComponent("eve.json").path
        let rotated = dir.appendingPathComponent("eve.json.1").path
        let sensor = try SensorProcess(["-i", "lo", "--workers", "2", "-o", out, "--rules", rules.path, "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }

        try postJSONRPC(port: port, ids: 1...1)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "mcp").count == 2 })
        try FileManager.default.moveItem(atPath: out, toPath: rotated)

        // A broken rule: refused, the shipped rules stay in force.
        let custom = rules.appendingPathComponent("sigma/custom-tools-list.yml").path
        try "title: [unclosed\n".write(toFile: custom, atomically: true, encoding: .utf8)
        sensor.signal(SIGHUP)
        #expect(SensorProcess.wait(3) { sensor.stderr.contains("rules reload refused") })
        #expect(sensor.stderr.contains("custom-tools-list.yml"))
        try postJSONRPC(port: port, ids: 2...2)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "mcp").count == 2 })
        #expect(events(readLines(out), type: "alert").isEmpty)

        // A good rule set with a rule on tools/list: in force for what comes next.
        try """
            title: tools/list seen
            id: 7d0c1c43-6f7e-4d8e-9b7a-2f0b5c0e7a11
            status: test
            level: low
            logsource:
              product: mcpsonar
              category: mcp
            detection:
              selection:
                mcp.method: tools/list
                mcp.kind: request
              condition: selection
            signature_id: 900001
            category: method
            """.write(toFile: custom, atomically: true, encoding: .utf8)
        sensor.signal(SIGHUP)
        #expect(SensorProcess.wait(3) { sensor.stderr.contains("rules reloaded (5 Sigma rules)") })
        let renamedAgain = dir.appendingPathComponent("eve.json.2").path
        try FileManager.default.moveItem(atPath: out, toPath: renamedAgain)
        sensor.signal(SIGHUP)
        #expect(SensorProcess.wait(3) { FileManager.default.fileExists(atPath: out) })
        try postJSONRPC(port: port, ids: 3...3)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "alert").count == 1 })
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")

        let first = readLines(rotated)
        #expect(events(first, type: "mcp").compactMap { ($0["mcp"] as? [String: Any])?["id"] as? Int } == [1, 1])
        let second = readLines(renamedAgain)
        #expect(events(second, type: "mcp").compactMap { ($0["mcp"] as? [String: Any])?["id"] as? Int } == [2, 2])
        let third = readLines(out)
        #expect(events(third, type: "mcp").compactMap { ($0["mcp"] as? [String: Any])?["id"] as? Int } == [3, 3])
        let alert = events(third, type: "alert").first?["alert"] as? [String: Any]
        #expect(alert?["signature"] as? String == "tools/list seen")
        #expect((events(third, type: "alert").first?["mcp"] as? [String: Any])?["id"] as? Int == 3)
        for line in first + second + third { #expect(!jsonObject(line).isEmpty) }
    }

    /// --user: the capture opens as root, then the sensor runs as the user; an output the user
    /// cannot write is refused before any capture, naming the user.
    @Test func privilegeDropRunsAsTheUser() throws {
        let port = LiveCaptureTests.freePort()
        let dir = try temporaryDirectory("privdrop")
        defer { try? FileManager.default.removeItem(at: dir) }
        guard let nobody = getpwnam("nobody")?.pointee else {
            Issue.record("the system has no user 'nobody'")
            return
        }
        chmod(dir.path, 0o755)
        let rootOnly = dir.appendingPathComponent("root-only")
        try FileManager.default.createDirectory(at: rootOnly, withIntermediateDirectories: true)
        chmod(rootOnly.path, 0o700)
        let refused = try runBinary(["-i", "lo", "--user", "nobody", "-o", rootOnly.appendingPathComponent("eve.json").path, "tcp", "port", String(port)])
        #expect(refused.status == 2)
        #expect(refused.stderr.hasPrefix("mcpsonar: cannot open output file \(rootOnly.path)/eve.json: Permission denied (as user nobody)"), "\(refused.stderr)")

        // Rules the user cannot read are refused the same way, before any capture.
        let hiddenRules = rootOnly.appendingPathComponent("rules")
        try FileManager.default.copyItem(at: Repo.root.appendingPathComponent("rules"), to: hiddenRules)
        let unreadable = try runBinary(["-i", "lo", "--user", "nobody", "--rules", hiddenRules.path, "-o", dir.appendingPathComponent("x.json").path,
                                        "tcp", "port", String(port)])
        #expect(unreadable.status == 2)
        #expect(unreadable.stderr == "mcpsonar: invalid rules (as user nobody): \(hiddenRules.path): permission denied\n")
        // Inside a folder the user may enter but not read, each file says so.
        chmod(rootOnly.path, 0o711)
        chmod(hiddenRules.path, 0o700)
        let unreadableFiles = try runBinary(["-i", "lo", "--user", "nobody", "--rules", hiddenRules.path, "-o", dir.appendingPathComponent("x.json").path,
                                             "tcp", "port", String(port)])
        #expect(unreadableFiles.status == 2)
        #expect(unreadableFiles.stderr.hasPrefix("mcpsonar: invalid rules (as user nobody): \(hiddenRules.path)/sigma: permission denied\n"), "\(unreadableFiles.stderr)")
        #expect(unreadableFiles.stderr.contains("mcpsonar: invalid rules (as user nobody): \(hiddenRules.path)/secrets.yml:0:0: cannot read the file\n"))
        chmod(rootOnly.path, 0o700)

        let writable = dir.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: writable, withIntermediateDirectories: true)
        chown(writable.path, nobody.pw_uid, nobody.pw_gid)
        let out = writable.appendingPathComponent("eve.json").path
        let sensor = try SensorProcess(["-i", "lo", "--user", "nobody", "-o", out, "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let status = (try? String(contentsOfFile: "/proc/\(sensor.pid)/status", encoding: .utf8)) ?? ""
        let uidLine = status.split(separator: "\n").first { $0.hasPrefix("Uid:") }.map(String.init) ?? ""
        let uids = uidLine.split(whereSeparator: { $0 == "\t" || $0 == " " }).dropFirst().compactMap { UInt32($0) }
        #expect(uids == Array(repeating: nobody.pw_uid, count: 4), "real, effective, saved and filesystem uid: \(uidLine)")
        let capLine = status.split(separator: "\n").first { $0.hasPrefix("CapEff:") }.map(String.init) ?? ""
        #expect(capLine.hasSuffix("0000000000000000"), "no capabilities left: \(capLine)")
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }
        try postJSONRPC(port: port, ids: 1...2)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "mcp").count == 4 })
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")
        var st = stat()
        #expect(stat(out, &st) == 0 && st.st_uid == nobody.pw_uid, "the output file belongs to the user")
    }

    /// Kernel-batched capture (TPACKET_V3 blocks): events still arrive promptly on a quiet link
    /// (the block timeout is 10 ms) and the stop drains everything.
    @Test func batchedCaptureWritesEveryMessage() throws {
        let port = LiveCaptureTests.freePort()
        let dir = try temporaryDirectory("batched")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.json").path
        let sensor = try SensorProcess(["-i", "lo", "--no-immediate", "-o", out, "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }
        try postJSONRPC(port: port, ids: 1...3)
        #expect(SensorProcess.wait(2) { events(readLines(out), type: "mcp").count == 6 }, "within 2 s on a quiet link")
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")
        let mcp = events(readLines(out), type: "mcp")
        #expect(mcp.compactMap { ($0["mcp"] as? [String: Any])?["id"] as? Int } == [1, 1, 2, 2, 3, 3])
    }

    @Test func unknownUserIsRefused() throws {
        let r = try runBinary(["-i", "lo", "--user", "no-such-user-mcpsonar"])
        #expect(r.status == 2)
        #expect(r.stderr == "mcpsonar: --user no-such-user-mcpsonar: no such user\n")
    }
}

/// The sinks through the whole sensor, against listeners this test starts: a unix stream socket
/// and a syslog collector over TCP get every event; a unix socket whose reader stops reading
/// never stalls capture or the other outputs, and what it lost is counted in `stats`.
@Suite(.serialized) struct LiveSinkTests {
    /// A listener that accepts one connection and keeps what it reads (or reads nothing).
    final class Listener: @unchecked Sendable {
        let fd: Int32
        var data: [UInt8] = []
        let lock = NSLock()
        var thread: Thread?
        init(fd: Int32, reads: Bool) {
            self.fd = fd
            let t = Thread { [unowned self] in
                let c = accept(fd, nil, nil)
                guard c >= 0 else { return }
                if !reads { return } // accepted, never read: the sender's buffer fills
                var buf = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(c, &buf, buf.count)
                    if n <= 0 { break }
                    self.lock.lock(); self.data.append(contentsOf: buf[0..<n]); self.lock.unlock()
                }
                close(c)
            }
            thread = t
            t.start()
        }
        var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
    }

    static func unixListener(_ path: String) -> Int32 {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var a = sockaddr_un()
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        _ = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        listen(fd, 4)
        return fd
    }

    static func tcpListener() -> (Int32, Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 4)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return (fd, Int(UInt16(bigEndian: addr.sin_port)))
    }

    @Test func unixAndSyslogSinksGetEveryEvent() throws {
        let port = LiveCaptureTests.freePort()
        let dir = URL(fileURLWithPath: "/tmp/mcpsonar-sinks-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("eve.sock").path
        let unixFD = Self.unixListener(socketPath)
        let unix = Listener(fd: unixFD, reads: true)
        let (tcpFD, syslogPort) = Self.tcpListener()
        let syslog = Listener(fd: tcpFD, reads: true)
        defer { close(unixFD); close(tcpFD) }
        let out = dir.appendingPathComponent("eve.json").path

        let sensor = try SensorProcess(["-i", "lo", "-o", out, "-o", "unix:\(socketPath)", "-o", "syslog+tcp://127.0.0.1:\(syslogPort)",
                                        "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }
        try postJSONRPC(port: port, ids: 1...3)
        #expect(SensorProcess.wait(5) { events(readLines(out), type: "mcp").count == 6 })
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")

        let fileLines = readLines(out)
        #expect(SensorProcess.wait(3) { unix.text.split(separator: "\n").count == fileLines.count })
        #expect(unix.text.split(separator: "\n").map(String.init) == fileLines, "the unix socket got exactly the file's lines")
        // Syslog over TCP: octet-counted RFC 5424 frames whose MSG is the event line.
        #expect(SensorProcess.wait(3) { syslogFrames(syslog.text).count == fileLines.count })
        let frames = syslogFrames(syslog.text)
        #expect(frames.map(\.message) == fileLines)
        for (frame, line) in zip(frames, fileLines) {
            let type = jsonObject(line)["event_type"] as? String ?? ""
            #expect(frame.header.hasPrefix("<134>1 ") || frame.header.hasPrefix("<130>1 ") || frame.header.hasPrefix("<131>1 ") || frame.header.hasPrefix("<132>1 "))
            #expect(frame.header.contains(" mcpsonar \(sensor.pid) \(type) - "), "\(frame.header)")
        }
    }

    @Test func aSinkThatStopsReadingIsCountedAndStallsNothing() throws {
        let port = LiveCaptureTests.freePort()
        let dir = URL(fileURLWithPath: "/tmp/mcpsonar-stall-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let socketPath = dir.appendingPathComponent("stalled.sock").path
        let unixFD = Self.unixListener(socketPath)
        let stalled = Listener(fd: unixFD, reads: false)
        defer { close(unixFD) }
        _ = stalled
        let out = dir.appendingPathComponent("eve.json").path
        let sensor = try SensorProcess(["-i", "lo", "-o", out, "-o", "unix:\(socketPath)", "--payloads",
                                        "tcp", "port", String(port)], directory: dir)
        #expect(SensorProcess.wait(5) { sensor.stderr.contains("listening on lo") })
        let server = try startJSONRPCServer(port: port)
        defer { server.kill() }
        let started = Date()
        // 300 requests with 8 KB of params on one keep-alive connection: with --payloads, about
        // 5 MB of events, the unix socket's send buffer many times over, at a packet rate a debug
        // build keeps up with.
        let script = """
        import http.client, json, sys
        c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
        for i in range(1, 301):
            body = json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/list", "params": {"cursor": "x" * 8000}})
            c.request("POST", "/mcp", body, {"content-type": "application/json"})
            c.getresponse().read()
        """
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", "-c", script, String(port)]
        try client.run()
        client.waitUntilExit()
        #expect(client.terminationStatus == 0)
        let seconds = Date().timeIntervalSince(started)
        #expect(SensorProcess.wait(15) { events(readLines(out), type: "mcp").count == 600 }, "the file got every event")
        #expect(sensor.stop() < 3)
        #expect(sensor.process.terminationStatus == 0, "\(sensor.stderr)")
        let lines = readLines(out)
        let stats = events(lines, type: "stats").last?["stats"] as? [String: Any]
        #expect(stats?["kernel_drops"] as? Int == 0, "capture never stalled: the kernel dropped nothing (\(seconds) s of traffic): \(lines.last ?? "")")
        let output = stats?["output"] as? [String: Any]
        let unix = (output?["sinks"] as? [String: Any])?["unix"] as? [String: Any]
        let unixWritten = unix?["written"] as? Int ?? 0
        let unixDropped = unix?["dropped"] as? Int ?? 0
        #expect(unixDropped > 0, "the stalled socket's losses are counted: \(String(describing: unix))")
        #expect(unix?["dropped_slow"] as? Int == unixDropped)
        let file = (output?["sinks"] as? [String: Any])?["file"] as? [String: Any]
        #expect(file?["dropped"] as? Int == 0)
        // Every event before the final stats went to the unix sink as written or dropped, or was
        // still in flight (the unsent tail of one line) or queued.
        let accounted = unixWritten + unixDropped + (output?["queued"] as? Int ?? 0) + (output?["dropped"] as? Int ?? 0)
        #expect(accounted >= lines.count - 2 && accounted <= lines.count - 1, "\(accounted) of \(lines.count - 1)")
    }
}

/// Octet-counted syslog frames (`LEN SP MSG`): each frame's header (up to the MSG) and MSG.
func syslogFrames(_ text: String) -> [(header: String, message: String)] {
    var bytes = Array(text.utf8)[...]
    var frames: [(String, String)] = []
    while let space = bytes.firstIndex(of: 0x20), let n = Int(String(decoding: bytes[bytes.startIndex..<space], as: UTF8.self)) {
        let start = space + 1
        guard start + n <= bytes.endIndex else { break }
        let frame = String(decoding: bytes[start..<start + n], as: UTF8.self)
        if let brace = frame.firstIndex(of: "{") {
            frames.append((String(frame[..<brace]), String(frame[brace...])))
        }
        bytes = bytes[(start + n)...]
    }
    return frames
}

/// `AlertCapture` on its own: interleaved alerting flows with room for one open file at a time.
@Suite struct AlertCaptureTests {
    @Test func filesClosedToMakeRoomAreReopenedAndComplete() throws {
        let dir = try temporaryDirectory("alert-capture")
        defer { try? FileManager.default.removeItem(at: dir) }
        var limits = AlertCaptureLimits()
        limits.maxOpenFiles = 1
        let capture = try AlertCapture(directory: dir.path, limits: limits)
        // Three flows, packets interleaved; flows 1 and 2 alert after their first packet.
        func packet(_ flow: UInt64, _ n: Int) -> [UInt8] {
            // An Ethernet frame whose bytes say which flow and packet it is.
            [UInt8](repeating: UInt8(flow), count: 14) + [UInt8(n)] + [UInt8](repeating: 0, count: 45)
        }
        var time: Int64 = 1_700_000_000_000_000
        func feed(_ flow: UInt64, _ n: Int) {
            time += 1000
            let bytes = packet(flow, n)
            bytes.withUnsafeBytes { raw in
                capture.packet(CapturedPacket(timestamp: Timestamp(microseconds: time), bytes: raw, wireLength: raw.count),
                               linkType: 1, flowId: flow)
            }
        }
        feed(1, 0); feed(2, 0); feed(3, 0)
        capture.alert(flowId: 1)
        capture.alert(flowId: 2) // closes flow 1's file to make room
        for n in 1...3 { feed(1, n); feed(2, n); feed(3, n) }
        capture.flowEnded(1); capture.flowEnded(2); capture.flowEnded(3)
        capture.close()
        #expect(capture.counters["pcap_alerts.files"] == 2)
        #expect(capture.counters["pcap_alerts.reopened"] == 6, "each of the 6 later packets found the other flow's file open")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["flow-1.pcap", "flow-2.pcap"])
        for flow in [UInt64(1), 2] {
            let source = try PcapSource.openFile(dir.appendingPathComponent("flow-\(flow).pcap").path)
            var seen: [Int] = []
            reading: while true {
                switch source.next() {
                case .packet(let p):
                    #expect(p.bytes[0] == UInt8(flow))
                    seen.append(Int(p.bytes[14]))
                default: break reading
                }
            }
            #expect(seen == [0, 1, 2, 3], "flow \(flow): every packet, in order, across reopenings")
        }
    }
}
