import Foundation
@testable import SonarEngine
import Testing

/// A connection's session id is read from each head: one connection whose requests change
/// their `Mcp-Session-Id` (same length, one byte apart) and change it back, and a response
/// that names another session, gives each event the id its own heads carry (the flow stage
/// reuses the String of the last id it read when the bytes are the same).
@Test func eachMessageHasTheSessionIdOfItsOwnHeads() throws {
    let a = "0a1b2c3d-0000-4000-8000-00000000000a"
    let b = "0a1b2c3d-0000-4000-8000-00000000000b"
    let c = "0a1b2c3d-0000-4000-8000-00000000000c"
    func request(_ id: Int, session: String) -> [UInt8] {
        let body = #"{"jsonrpc":"2.0","id":\#(id),"method":"ping"}"#
        return Array("POST /mcp HTTP/1.1\r\nHost: x\r\nMcp-Session-Id: \(session)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }
    func response(_ id: Int, session: String?) -> [UInt8] {
        let body = #"{"jsonrpc":"2.0","id":\#(id),"result":{}}"#
        let named = session.map { "Mcp-Session-Id: \($0)\r\n" } ?? ""
        return Array("HTTP/1.1 200 OK\r\n\(named)Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
    }
    let exchanges: [(request: String, response: String?)] = [(a, nil), (b, nil), (a, nil), (a, c)]
    let lines = runConnection { build, client, server -> [[UInt8]] in
        var frames: [[UInt8]] = []
        var up: UInt32 = 101, down: UInt32 = 501
        frames.append(build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []))
        frames.append(build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []))
        for (i, exchange) in exchanges.enumerated() {
            let req = request(i, session: exchange.request), res = response(i, session: exchange.response)
            frames.append(build.tcp(from: client, to: server, seq: up, ack: down, flags: [.ack, .psh], payload: req))
            up += UInt32(req.count)
            frames.append(build.tcp(from: server, to: client, seq: down, ack: up, flags: [.ack, .psh], payload: res))
            down += UInt32(res.count)
        }
        frames.append(build.tcp(from: client, to: server, seq: up, ack: down, flags: [.ack], payload: []))
        return frames
    }
    let sessions = lines.map(jsonObject).compactMap { $0["mcp"] as? [String: Any] }.map { mcp in
        "\(mcp["kind"] as? String ?? "?") \(mcp["session_id"] as? String ?? "none")"
    }
    #expect(sessions == ["request \(a)", "response \(a)", "request \(b)", "response \(b)",
                         "request \(a)", "response \(a)", "request \(a)", "response \(c)"])
}
