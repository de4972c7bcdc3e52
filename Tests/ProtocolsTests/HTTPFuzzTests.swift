import SonarCore
import Testing
@testable import SonarProtocols

/// Random conversations built from real-looking pieces (SSE, gzip SSE, raw deflate JSON, 101,
/// 1xx, HEAD, CONNECT, close-delimited), mutated, interleaved in random order with random gaps:
/// no trap, and every way of cutting the bytes gives the same outputs.
@Test func randomConversationsAreDeterministic() {
    let sse = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
        + "20\r\nevent: message\r\ndata: {\"id\":1}\r\n\r\n\r\n8\r\n: ping\r\n\r\n0\r\n\r\n"
    let ev = bytes("id: 1\r\ndata: {\"x\":1}\r\n\r\n: ping\r\n\r\n")
    let zs = compress(ev + ev + ev, windowBits: 31)
    let gzsse = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-encoding: gzip\r\ntransfer-encoding: chunked\r\n\r\n") + chunked(zs, size: 9)
    let z = compress(bytes(#"{"jsonrpc":"2.0","id":2,"result":{"tools":[]}}"#), windowBits: -15)
    let gz = bytes("HTTP/1.1 200 OK\r\ncontent-encoding: deflate\r\ncontent-length: \(z.count)\r\n\r\n") + z
    let reqs = ["POST /mcp HTTP/1.1\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{\"a\":1}",
                "GET /ws HTTP/1.1\r\nupgrade: websocket\r\n\r\n", "HEAD / HTTP/1.1\r\n\r\n",
                "POST /c HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\nx: y\r\n\r\n", "CONNECT a:1 HTTP/1.1\r\n\r\n"]
    let resps: [[UInt8]] = [bytes(sse), gz, gzsse, bytes("HTTP/1.1 101 S\r\n\r\n"), bytes("HTTP/1.1 100 C\r\n\r\nHTTP/1.1 204 N\r\n\r\n"),
                            bytes("HTTP/1.0 200 OK\r\n\r\n[1,2]"), bytes("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc")]
    var rng = SplitMix64(seed: 5)
    var total = 0
    for _ in 0..<400 {
        var up: [UInt8] = [], down: [UInt8] = []
        for _ in 0..<Int.random(in: 1...4, using: &rng) { up += bytes(reqs.randomElement(using: &rng) ?? "") }
        for _ in 0..<Int.random(in: 1...4, using: &rng) { down += resps.randomElement(using: &rng) ?? [] }
        for _ in 0..<Int.random(in: 0...12, using: &rng) {
            let target = Bool.random(using: &rng)
            var buf = target ? up : down
            if buf.isEmpty { continue }
            let at = Int.random(in: 0..<buf.count, using: &rng)
            switch Int.random(in: 0..<4, using: &rng) {
            case 0: buf[at] = UInt8.random(in: 0...255, using: &rng)
            case 1: buf.insert([10, 13, 32, 58, 72, 48][Int.random(in: 0..<6, using: &rng)], at: at)
            case 2: buf.remove(at: at)
            default: buf[at] = [10, 13, 32, 58, 72, 48][Int.random(in: 0..<6, using: &rng)]
            }
            if target { up = buf } else { down = buf }
        }
        // Interleave the two directions in random pieces, with an occasional gap.
        var steps: [Step] = []
        var pos = [0, 0]
        let streams = [up, down]
        while pos[0] < up.count || pos[1] < down.count {
            var d = Bool.random(using: &rng) ? 0 : 1
            if pos[d] >= streams[d].count { d = 1 - d }
            let e = min(streams[d].count, pos[d] + Int.random(in: 1...80, using: &rng))
            steps.append(.send(d == 0 ? .toServer : .toClient, Array(streams[d][pos[d]..<e])))
            pos[d] = e
            if Int.random(in: 0..<10, using: &rng) == 0 {
                steps.append(.gap(Bool.random(using: &rng) ? .toServer : .toClient, Int.random(in: 1...30, using: &rng)))
            }
        }
        steps += [.end(.toServer), .end(.toClient)]
        let r = runAllSplits(steps)
        total += r.outputs.count
    }
    #expect(total > 400)  // the mutations leave most conversations readable
}
