import Foundation
import Testing

/// Live capture on `lo` (CI runs as root): the sensor with a BPF filter on a free port, a real
/// HTTP JSON-RPC exchange through the kernel, SIGINT, and every message written as a complete
/// JSON line followed by the final stats.
@Suite(.serialized) struct LiveCaptureTests {
    /// A tiny MCP-shaped HTTP server and client in Python's standard library.
    static let script = #"""
    import http.server, json, socket, sys, threading, time, urllib.request
    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            out = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": {"tools": []}}).encode()
            self.send_response(200); self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(out))); self.end_headers(); self.wfile.write(out)
        def log_message(self, *a): pass
    port = int(sys.argv[1])
    srv = http.server.HTTPServer(("127.0.0.1", port), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    for i in range(1, 4):
        req = urllib.request.Request(f"http://127.0.0.1:{port}/mcp", method="POST",
            data=json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/list"}).encode(),
            headers={"content-type": "application/json", "accept": "application/json, text/event-stream"})
        urllib.request.urlopen(req).read()
    srv.shutdown()
    """#

    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    @Test func liveCaptureOnLoopbackWritesEveryMessage() throws {
        let port = Self.freePort()
        let dir = try scratchSubdirectory("live")
        let out = dir.appendingPathComponent("live.json").path
        try? FileManager.default.removeItem(atPath: out)

        let sensor = Process()
        sensor.executableURL = URL(fileURLWithPath: Repo.binary)
        sensor.arguments = ["-i", "lo", "-o", out, "tcp", "port", String(port)]
        let err = Pipe()
        sensor.standardError = err
        try sensor.run()
        Thread.sleep(forTimeInterval: 1.5) // the capture is open once libpcap activated it

        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["python3", "-c", Self.script, String(port)]
        try client.run()
        client.waitUntilExit()
        #expect(client.terminationStatus == 0)

        Thread.sleep(forTimeInterval: 0.5)
        let stopAsked = Date()
        kill(sensor.processIdentifier, SIGINT)
        sensor.waitUntilExit()
        #expect(Date().timeIntervalSince(stopAsked) < 3, "the sensor stops within a second or two of SIGINT")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(sensor.terminationStatus == 0, "\(stderr)")

        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
        for line in lines { #expect(!jsonObject(line).isEmpty, "an incomplete JSON line: \(line)") }
        let mcp = lines.map(jsonObject).filter { $0["event_type"] as? String == "mcp" }
        #expect(mcp.count == 6)
        let kinds = mcp.map { ($0["mcp"] as? [String: Any])?["kind"] as? String ?? "" }
        #expect(kinds == ["request", "response", "request", "response", "request", "response"])
        let methods = Set(mcp.compactMap { ($0["mcp"] as? [String: Any])?["method"] as? String })
        #expect(methods == ["tools/list"])
        #expect(mcp.allSatisfy { $0["dest_port"] as? Int == port || $0["src_port"] as? Int == port })
        let last = jsonObject(lines.last ?? "")
        #expect(last["event_type"] as? String == "stats")
        #expect((last["stats"] as? [String: Any])?["kernel_drops"] as? Int == 0)
    }

    @Test func invalidBPFFilterIsRefusedWithLibpcapsMessage() throws {
        let r = try runBinary(["-i", "lo", "tcp", "port", "notaport"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("invalid BPF filter"))
        #expect(r.stdout.isEmpty)
    }
}
