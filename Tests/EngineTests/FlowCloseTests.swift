import Foundation
import SonarCapture
import SonarCore
import SonarDecode
import SonarDetect
@testable import SonarEngine
import SonarFlow
import Testing

/// A connection is closed once both directions have reached their FIN, whichever packet completes
/// that: here the server's FIN comes before its last data, and the data, which carries no FIN,
/// closes the flow. Without either FIN the flow stays open to the end of input.
@Test func aFlowClosesWhenTheDataBeforeAnEarlyFINArrives() throws {
    func run(serverFIN: Bool) -> String? {
        let data = Array("hello".utf8)
        let serverFlags: TCPFlags = serverFIN ? [.fin, .ack] : [.ack]
        let lines = runConnection { build, client, server -> [[UInt8]] in
            var frames: [[UInt8]] = []
            frames.append(build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []))
            frames.append(build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []))
            frames.append(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack], payload: []))
            frames.append(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack, .psh], payload: data))
            // The server's FIN, after five bytes the capture has not seen yet.
            frames.append(build.tcp(from: server, to: client, seq: 506, ack: 106, flags: serverFlags, payload: []))
            frames.append(build.tcp(from: client, to: server, seq: 106, ack: 501, flags: [.fin, .ack], payload: []))
            // The missing bytes, without FIN: they complete the server's direction.
            frames.append(build.tcp(from: server, to: client, seq: 501, ack: 107, flags: [.ack, .psh], payload: data))
            return frames
        }
        let flows = lines.filter { $0.contains(#""event_type":"flow""#) }
        guard flows.count == 1, let o = try? JSONSerialization.jsonObject(with: Data(flows[0].utf8)) as? [String: Any] else { return nil }
        return (o["flow"] as? [String: Any])?["reason"] as? String
    }
    #expect(run(serverFIN: true) == "closed")
    #expect(run(serverFIN: false) == "shutdown")
}

/// One packet that both leaves a reassembly notice in its own direction (an urgent byte taken
/// out) and acknowledges past a hole in the other direction: the notice's alert comes after the
/// segment's own messages, and the acknowledgment then delivers the other direction's held
/// message at this packet's time, not at the end of input.
@Test func aSegmentsNoticeAndTheAcknowledgmentItCarriesKeepTheirOrder() throws {
    let sink = MemorySink()
    var config = EngineConfig()
    config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    let engine = Engine(config: config, sink: sink)
    var build = PacketBuilder()
    let client = Host(address: 0x0A00_0001, port: 40000)
    let server = Host(address: 0x0A00_0002, port: 7000)
    let t0: Int64 = 1_795_000_000_000_000
    func send(_ frame: [UInt8], at step: Int64, urgent: UInt16 = 0) {
        var frame = frame
        frame[52] = UInt8(urgent >> 8)
        frame[53] = UInt8(urgent & 0xFF)
        frame.withUnsafeBytes { raw in
            engine.process(CapturedPacket(timestamp: Timestamp(microseconds: t0 + step * 1000), bytes: raw, wireLength: raw.count),
                           linkType: LinkType.ethernet)
        }
    }
    let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#.utf8) + [10]
    // The server's answer, held behind a hole of 7 bytes the capture never saw.
    let held = [10] + Array(#"{"jsonrpc":"2.0","id":1,"result":{}}"#.utf8) + [10]
    let hole: UInt32 = 7
    let notification = Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8) + [10]
    let c1: UInt32 = 101 + UInt32(request.count)
    let s1: UInt32 = 501 + hole + UInt32(held.count)
    send(build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []), at: 1)
    send(build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []), at: 2)
    send(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack], payload: []), at: 3)
    send(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack, .psh], payload: request), at: 4)
    send(build.tcp(from: server, to: client, seq: 501 + hole, ack: c1, flags: [.ack, .psh], payload: held), at: 5)
    // Urgent pointer 1: the "X" is taken out of the stream (a notice). The ACK covers the hole.
    send(build.tcp(from: client, to: server, seq: c1, ack: s1, flags: [.ack, .psh, .urg], payload: Array("X".utf8) + notification),
         at: 6, urgent: 1)
    send(build.tcp(from: server, to: client, seq: s1, ack: c1 + 1 + UInt32(notification.count), flags: [.ack], payload: []), at: 7)
    engine.finish()
    let events = sink.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        .filter { ($0["event_type"] as? String) == "mcp" || ($0["event_type"] as? String) == "alert" }
    let summary = events.map { e -> String in
        let time = (e["timestamp"] as? String) ?? ""
        let step = time.dropFirst(20).prefix(3) // milliseconds: the step
        if let alert = e["alert"] as? [String: Any] { return "\(step) alert \(alert["rule"] as? String ?? "")" }
        let mcp = e["mcp"] as? [String: Any]
        return "\(step) \(mcp?["kind"] as? String ?? "") \(mcp?["method"] as? String ?? "")"
    }
    let urgent = summary.filter { $0.contains("tcp-urgent") }
    #expect(urgent == ["006 alert protocol.tcp-urgent-data"])
    let messages = summary.filter { !$0.contains("alert") }
    #expect(messages == ["004 request ping", "006 notification notifications/initialized", "006 response ping"])
    // The alert sits between the segment's message and the one the acknowledgment delivered.
    let order = summary.filter { !$0.contains("alert") || $0.contains("tcp-urgent") }
    #expect(order == ["004 request ping", "006 notification notifications/initialized",
                      "006 alert protocol.tcp-urgent-data", "006 response ping"])
}

/// The `Upgrade` token and the WebSocket subprotocol are compared as ASCII without regard to
/// case (RFC 9110 tokens): `WebSocket` hands the connection to the WebSocket parser, whose text
/// frame is then an MCP message; `h2c` is an upgrade the sensor does not read.
@Test func upgradeTokensAreComparedAsASCIIWithoutCase() throws {
    func run(upgrade: String) -> (transports: [String], counters: [String: Any]) {
        let request = Array("GET /mcp HTTP/1.1\r\nHost: x\r\nUpgrade: \(upgrade)\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: MCP\r\n\r\n".utf8)
        let message = Array(#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#.utf8)
        let response = Array("HTTP/1.1 101 Switching Protocols\r\nUpgrade: \(upgrade)\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: MCP\r\n\r\n".utf8)
            + [0x81, UInt8(message.count)] + message
        let afterRequest = UInt32(101 + request.count), afterResponse = UInt32(501 + response.count)
        let lines = runConnection { build, client, server -> [[UInt8]] in
            var frames: [[UInt8]] = []
            frames.append(build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []))
            frames.append(build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []))
            frames.append(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack, .psh], payload: request))
            frames.append(build.tcp(from: server, to: client, seq: 501, ack: afterRequest, flags: [.ack, .psh], payload: response))
            frames.append(build.tcp(from: client, to: server, seq: afterRequest, ack: afterResponse, flags: [.ack], payload: []))
            return frames
        }
        let objects = lines.map(jsonObject)
        let transports = objects.compactMap { ($0["mcp"] as? [String: Any])?["transport"] as? String }
        let stats = objects.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
        return (transports, stats?["counters"] as? [String: Any] ?? [:])
    }
    #expect(run(upgrade: "WebSocket").transports == ["websocket"])
    #expect(run(upgrade: "websocket").transports == ["websocket"])
    let h2c = run(upgrade: "h2c")
    #expect(h2c.transports.isEmpty)
    #expect((h2c.counters["app"] as? [String: Any])?["upgrade_not_websocket"] as? Int == 1)
}
