import SonarCore
import Testing
@testable import SonarProtocols

private let handshakes: [WebSocketHandshake] = [
    .init(),
    .init(extensions: "permessage-deflate"),
    .init(extensions: "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12"),
    .init(extensions: "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
]

/// A plausible conversation: compressed and plain messages, fragments, pings, a close.
private func conversation(_ rng: inout SplitMix64) -> [Step] {
    let up = WSCompressor(), down = WSCompressor()
    var steps: [Step] = []
    for i in 0..<8 {
        let body = Array(#"{"jsonrpc":"2.0","id":\#(i),"method":"tools/list","params":{"cursor":"\#(rng.next())"}}"#.utf8)
        if Bool.random(using: &rng) {
            let c = up.message(body)
            let cut = Int.random(in: 0...c.count, using: &rng)
            steps.append(.send(.toServer, cFrame(1, Array(c[..<cut]), fin: false, rsv1: true)
                + cFrame(9, [1, 2]) + cFrame(0, Array(c[cut...]))))
        } else {
            steps.append(.send(.toServer, cFrame(1, body)))
        }
        steps.append(.send(.toClient, sFrame(1, down.message(body + body), rsv1: true)))
    }
    steps.append(.send(.toClient, sFrame(8, closePayload(1000, "bye"))))
    return steps
}

@Suite("WebSocket robustness")
struct WebSocketRobustnessTests {
    /// Random bytes, random gaps and ends: never a crash, and every split gives the same result.
    @Test func randomGarbageNeverCrashesAndIsSplitInvariant() {
        var rng = SplitMix64(seed: 42)
        for round in 0..<3000 {
            var steps: [Step] = []
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let dir: Direction = Bool.random(using: &rng) ? .toServer : .toClient
                switch Int.random(in: 0..<10, using: &rng) {
                case 0: steps.append(.gap(dir, Int.random(in: 1...300, using: &rng)))
                case 1: steps.append(.end(dir))
                default:
                    var b = (0..<Int.random(in: 0...400, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                    // Bias towards plausible headers: small lengths, valid opcodes, RSV1.
                    if b.count > 2 && Bool.random(using: &rng) {
                        b[0] = [0x81, 0xC1, 0x01, 0x41, 0x80, 0x89, 0x88, 0x8A, 0x82][Int.random(in: 0..<9, using: &rng)]
                        b[1] = (dir == .toServer ? 0x80 : 0) | UInt8.random(in: 0...127, using: &rng)
                    }
                    steps.append(.send(dir, b))
                }
            }
            let hs = handshakes[round % handshakes.count]
            let whole = wsRun(steps, handshake: hs, split: .whole)
            let random = wsRun(steps, handshake: hs, split: .random(UInt64(round)))
            #expect(whole == random, "round \(round)")
            if round % 10 == 0 {
                #expect(whole == wsRun(steps, handshake: hs, split: .bytes), "round \(round) byte by byte")
            }
        }
    }

    /// Valid conversations with bytes flipped: the parser survives and stays split-invariant.
    @Test func mutatedConversationsNeverCrash() {
        var rng = SplitMix64(seed: 7)
        for round in 0..<400 {
            var steps = conversation(&rng)
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let k = Int.random(in: 0..<steps.count, using: &rng)
                if case .send(let d, var b) = steps[k], !b.isEmpty {
                    b[Int.random(in: 0..<b.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                    steps[k] = .send(d, b)
                }
            }
            let hs = handshakes[1 + round % 2]
            let whole = wsRun(steps, handshake: hs, split: .whole)
            #expect(whole == wsRun(steps, handshake: hs, split: .random(UInt64(round))), "round \(round)")
        }
    }

    /// The unmutated conversation decodes completely under every split.
    @Test func conversationDecodes() {
        var rng = SplitMix64(seed: 7)
        let r = wsRunAllSplits(conversation(&rng), handshake: handshakes[1])
        #expect(r.counters.isEmpty)
        #expect(r.outputs.count == 8 + 8 + r.outputs.filter { if case .ping = $0 { return true } else { return false } }.count + 1)
        #expect(r.outputs.last == .close(.toClient, code: 1000, reason: "bye"))
    }

    /// Memory stays bounded: a huge declared frame, a bomb, and a huge masked compressed feed.
    @Test func buffersStayBounded() {
        var limits = WebSocketLimits()
        limits.maxMessageBytes = 1 << 20
        let p = WebSocketConnectionParser(handshake: handshakes[1], limits: limits)
        var out: [WebSocketOutput] = []
        // 1 MiB of zeros compress to ~1 KiB: many such messages fed as one 3 MB masked frame.
        let c = WSCompressor()
        var payload: [UInt8] = []
        for _ in 0..<3 { payload += c.message([UInt8](repeating: 0x20, count: 1 << 20)) + [0, 0, 0xFF, 0xFF] }
        payload += [UInt8](repeating: 0x00, count: 3 << 20)  // stored-block garbage after the bomb
        let frame = cFrame(2, payload, rsv1: true)
        frame.withUnsafeBytes { p.feed($0, direction: .toServer) { out.append($0) } }
        #expect(out.first == .anomaly(.toServer, "websocket.decompression_bomb"))
        #expect(p.bufferedBytes < 2 << 20)

        // A header declaring 16 MiB (within the limit) holds nothing until bytes arrive.
        let q = WebSocketConnectionParser(handshake: .init())
        let header: [UInt8] = [0x82, 127, 0, 0, 0, 0, 1, 0, 0, 0]
        header.withUnsafeBytes { q.feed($0, direction: .toClient) { out.append($0) } }
        [UInt8](repeating: 7, count: 100).withUnsafeBytes { q.feed($0, direction: .toClient) { out.append($0) } }
        #expect(q.bufferedBytes < 1024)
    }
}
