import SonarCore
import Testing
@testable import SonarProtocols

private let initialize = #"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#
private let result = #"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-03-26","capabilities":{}}}"#

@Suite("WebSocket frames")
struct WebSocketFrameTests {
    @Test func singleTextFrameMaskedAndUnmasked() {
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, bytes(initialize))),
            .send(.toClient, sFrame(1, bytes(result))),
        ], handshake: .init(subprotocol: "mcp", extensions: nil))
        #expect(r.outputs == [text(.toServer, initialize), text(.toClient, result)])
        #expect(r.counters.isEmpty)
    }

    @Test func wrongMaskingIsReportedButDecoded() {
        let r = wsRunAllSplits([
            .send(.toServer, sFrame(1, bytes("unmasked"))),
            .send(.toClient, wsFrame(2, [1, 2, 3, 4, 5, 6, 7, 8, 9], maskKey: [1, 2, 3, 4])),
        ])
        #expect(r.outputs == [
            .anomaly(.toServer, "websocket.unmasked_client_frame"), text(.toServer, "unmasked"),
            .anomaly(.toClient, "websocket.masked_server_frame"), .message(.toClient, .binary, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
        ])
        #expect(r.counters == counters([("websocket.unmasked_client_frame", 1), ("websocket.masked_server_frame", 1)]))
    }

    @Test func sixteenAndSixtyFourBitLengths() {
        let medium = (0..<300).map { UInt8($0 & 0xFF) }
        let large = (0..<70_000).map { UInt8(($0 * 7) & 0xFF) }
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(2, medium)),
            .send(.toServer, cFrame(2, large)),
            .send(.toClient, sFrame(2, large)),
        ])
        #expect(cFrame(2, medium)[1] == 0x80 | 126)
        #expect(cFrame(2, large)[1] == 0x80 | 127)
        #expect(r.outputs == [.message(.toServer, .binary, medium), .message(.toServer, .binary, large),
                              .message(.toClient, .binary, large)])
        #expect(r.counters.isEmpty)
    }

    @Test func nonMinimalAndInvalidLengths() {
        var bad = wsFrame(2, [], lengthForm: 64)
        bad[2] = 0x80  // top bit of the 64-bit length
        let r = wsRunAllSplits([
            .send(.toClient, wsFrame(1, bytes("hi"), lengthForm: 16)),
            .send(.toClient, wsFrame(1, bytes("ho"), lengthForm: 64)),
            .send(.toClient, bad + sFrame(1, bytes("never parsed"))),
            .send(.toServer, cFrame(1, bytes("other direction goes on"))),
        ])
        #expect(r.outputs == [
            .anomaly(.toClient, "websocket.non_minimal_length"), text(.toClient, "hi"),
            .anomaly(.toClient, "websocket.non_minimal_length"), text(.toClient, "ho"),
            .anomaly(.toClient, "websocket.bad_length"),
            text(.toServer, "other direction goes on"),
        ])
    }

    @Test func fragmentedMessageWithPingInBetween() {
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, bytes(#"{"jsonrpc":"#), fin: false)),
            .send(.toServer, cFrame(9, bytes("are you there"))),
            .send(.toServer, cFrame(0, bytes(#""2.0","method":"#), fin: false)),
            .send(.toServer, cFrame(0, [], fin: false)),
            .send(.toClient, sFrame(10, bytes("are you there"))),
            .send(.toServer, cFrame(0, bytes(#""ping"}"#))),
        ])
        #expect(r.outputs == [
            .ping(.toServer, bytes("are you there")),
            .pong(.toClient, bytes("are you there")),
            text(.toServer, #"{"jsonrpc":"2.0","method":"ping"}"#),
        ])
        #expect(r.counters.isEmpty)
    }

    @Test func closeMidMessage() {
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, bytes("part one "), fin: false)),
            .send(.toServer, cFrame(8, closePayload(1001, "going away"))),
            .send(.toServer, cFrame(0, bytes("part two"))),
            .send(.toServer, cFrame(1, bytes("after close"))),
            .send(.toClient, sFrame(8, closePayload(1000, ""))),
            .send(.toClient, sFrame(8, [])),
        ])
        #expect(r.outputs == [
            .close(.toServer, code: 1001, reason: "going away"),
            .anomaly(.toServer, "websocket.data_after_close"), .anomaly(.toServer, "websocket.unexpected_continuation"),
            .anomaly(.toServer, "websocket.data_after_close"), text(.toServer, "after close"),
            .close(.toClient, code: 1000, reason: ""),
            .close(.toClient, code: nil, reason: ""),
        ])
        #expect(r.counters == counters([("websocket.message_abandoned", 1), ("websocket.data_after_close", 2),
                                        ("websocket.unexpected_continuation", 1)]))
    }

    @Test func controlFrameViolations() {
        let r = wsRunAllSplits([
            .send(.toClient, sFrame(9, bytes("frag"), fin: false)),
            .send(.toClient, sFrame(9, [UInt8](repeating: 0x41, count: 126))),
            .send(.toClient, sFrame(8, [0x03])),
            .send(.toClient, sFrame(1, bytes("ok"))),
        ])
        #expect(r.outputs == [
            .anomaly(.toClient, "websocket.control_fragmented"), .ping(.toClient, bytes("frag")),
            .anomaly(.toClient, "websocket.control_too_large"),
            .anomaly(.toClient, "websocket.bad_close_payload"), .close(.toClient, code: nil, reason: ""),
            .anomaly(.toClient, "websocket.data_after_close"), text(.toClient, "ok"),
        ])
    }

    @Test func invalidOpcodeIsSkippedByCount() {
        let r = wsRunAllSplits([
            .send(.toServer, wsFrame(3, bytes("reserved data opcode"), maskKey: clientKey)),
            .send(.toServer, wsFrame(0xB, bytes("reserved control"), maskKey: clientKey)),
            .send(.toServer, cFrame(1, bytes("next"))),
        ])
        #expect(r.outputs == [.anomaly(.toServer, "websocket.bad_opcode"), .anomaly(.toServer, "websocket.bad_opcode"),
                              text(.toServer, "next")])
        #expect(r.counters == counters([("websocket.bad_opcode", 2)]))
    }

    @Test func newMessageWhileOneIsOpenDropsTheOpenOne() {
        let r = wsRunAllSplits([
            .send(.toClient, sFrame(1, bytes("lost"), fin: false)),
            .send(.toClient, sFrame(2, [9, 9])),
            .send(.toClient, sFrame(0, bytes("stray"))),
        ])
        #expect(r.outputs == [.anomaly(.toClient, "websocket.unfinished_message"), .message(.toClient, .binary, [9, 9]),
                              .anomaly(.toClient, "websocket.unexpected_continuation")])
    }

    @Test func rsvWithoutNegotiatedExtension() {
        let r = wsRunAllSplits([
            .send(.toClient, sFrame(1, [0xF2, 0x48, 0x05, 0x00], rsv1: true)),
            .send(.toClient, wsFrame(1, bytes("rsv2"), rsv2: true)),
            .send(.toClient, sFrame(1, bytes("plain"))),
        ])
        #expect(r.outputs == [
            .anomaly(.toClient, "websocket.rsv_without_extension"),
            .anomaly(.toClient, "websocket.rsv_without_extension"), text(.toClient, "rsv2"),
            text(.toClient, "plain"),
        ])
        #expect(r.counters == counters([("websocket.rsv_without_extension", 2)]))
    }

    @Test func frameBeyondLimitIsSkippedByCountWithoutBuffering() {
        var limits = WebSocketLimits()
        limits.maxFrameBytes = 1000
        let big = [UInt8](repeating: 0x61, count: 5000)
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, bytes("head "), fin: false) + cFrame(0, big)),
            .send(.toServer, cFrame(1, bytes("small"))),
        ], limits: limits)
        #expect(r.outputs == [.anomaly(.toServer, "websocket.frame_too_large"), text(.toServer, "small")])
        #expect(r.counters == counters([("websocket.frame_too_large", 1)]))

        // A header declaring 1 TiB with default limits: skipped as it streams, nothing kept.
        let p = WebSocketConnectionParser(handshake: .init())
        var out: [WebSocketOutput] = []
        var header: [UInt8] = [0x82, 127]
        for s in stride(from: 56, through: 0, by: -8) { header.append(UInt8(((1 as UInt64) << 40) >> UInt64(s) & 0xFF)) }
        header.withUnsafeBytes { p.feed($0, direction: .toClient) { out.append($0) } }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        for _ in 0..<64 { chunk.withUnsafeBytes { p.feed($0, direction: .toClient) { out.append($0) } } }
        p.gap(1 << 40 - 64 << 20, direction: .toClient) { out.append($0) }
        sFrame(1, bytes("after")).withUnsafeBytes { p.feed($0, direction: .toClient) { out.append($0) } }
        #expect(out == [.anomaly(.toClient, "websocket.frame_too_large"), text(.toClient, "after")])
    }

    @Test func messageBeyondLimitIsDropped() {
        var limits = WebSocketLimits()
        limits.maxMessageBytes = 100
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, [UInt8](repeating: 0x61, count: 60), fin: false)),
            .send(.toServer, cFrame(0, [UInt8](repeating: 0x61, count: 60))),
            .send(.toServer, cFrame(1, [UInt8](repeating: 0x62, count: 100))),
        ], limits: limits)
        #expect(r.outputs == [.anomaly(.toServer, "websocket.message_too_large"),
                              .message(.toServer, .text, [UInt8](repeating: 0x62, count: 100))])
    }

    @Test func gapInPayloadDamagesOnlyThatMessage() {
        let frame = cFrame(1, bytes("0123456789"))
        let r = wsRunAllSplits([
            .send(.toServer, Array(frame[0..<9])),
            .gap(.toServer, 3),
            .send(.toServer, Array(frame[12...])),
            .send(.toServer, cFrame(9, bytes("p"))),
            .send(.toServer, Array(cFrame(9, bytes("ping!"))[0..<8])),
            .gap(.toServer, 3),
            .send(.toServer, cFrame(1, bytes("intact"))),
        ])
        #expect(r.outputs == [.ping(.toServer, bytes("p")), text(.toServer, "intact")])
        #expect(r.counters == counters([("websocket.gap", 2), ("websocket.message_damaged", 1),
                                        ("websocket.control_damaged", 1)]))
    }

    @Test func gapInHeaderStopsThatDirectionOnly() {
        let r = wsRunAllSplits([
            .send(.toServer, cFrame(1, bytes("a"))),
            .gap(.toServer, 4),
            .send(.toServer, cFrame(1, bytes("ignored"))),
            .send(.toClient, Array(sFrame(1, bytes("bcd"))[0..<3])),
            .gap(.toClient, 10),  // runs past the frame into the next header
            .send(.toClient, sFrame(1, bytes("ignored"))),
            .end(.toClient),
        ])
        #expect(r.outputs == [text(.toServer, "a"), .anomaly(.toServer, "websocket.gap_in_header"),
                              .anomaly(.toClient, "websocket.gap_in_header")])
        #expect(r.counters == counters([("websocket.gap", 2), ("websocket.gap_in_header", 2),
                                        ("websocket.message_damaged", 1)]))
    }

    @Test func truncatedAtEnd() {
        let r = wsRunAllSplits([
            .send(.toServer, Array(cFrame(1, bytes("abcdef"))[0..<9])),
            .end(.toServer),
            .send(.toServer, cFrame(1, bytes("after end"))),
        ])
        #expect(r.outputs == [])
        #expect(r.counters == counters([("websocket.truncated", 1)]))
    }

    @Test func unmaskEveryPhaseAndLength() {
        let key: [UInt8] = [0xA1, 0x02, 0xF3, 0x44]
        let k = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        for phase in 0..<4 {
            for n in 0..<40 {
                let data = (0..<n).map { UInt8(($0 * 31 + 7) & 0xFF) }
                var buf = data
                buf.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: k, phase: phase) }
                #expect(buf == data.enumerated().map { $0.element ^ key[($0.offset + phase) & 3] })
            }
        }
    }
}

@Suite("WebSocket text validation")
struct WebSocketTextTests {
    @Test func utf8ValidatorAgreesWithTheStandardLibrary() {
        let edge: [[UInt8]] = [
            [], [0x41], [0xC2, 0x80], [0xC1, 0xBF], [0xE0, 0x9F, 0x80], [0xE0, 0xA0, 0x80], [0xED, 0xA0, 0x80],
            [0xED, 0x9F, 0xBF], [0xF0, 0x8F, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
            [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF],
            Array("plain ascii text that is longer than eight bytes é and more ascii 😀".utf8),
        ]
        var rng = SplitMix64(seed: 3)
        var inputs = edge
        for _ in 0..<20_000 {
            let alphabet: [UInt8] = [0x41, 0x7F, 0x80, 0xBF, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xA0, 0x9F, 0x90, 0x8F]
            inputs.append((0..<Int.random(in: 0...12, using: &rng)).map { _ in
                Bool.random(using: &rng) ? alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                                         : UInt8.random(in: 0...255, using: &rng)
            })
        }
        for b in inputs {
            #expect(WebSocketUTF8.isValid(b) == (String(validating: b, as: UTF8.self) != nil), "\(b)")
        }
    }

    @Test func invalidTextAndCloseCodesAreReportedButEmitted() {
        let r = wsRunAllSplits([
            .send(.toClient, sFrame(1, [0x7B, 0xC3, 0x28, 0x7D])),
            .send(.toClient, sFrame(2, [0xC3, 0x28])),
            .send(.toClient, sFrame(1, bytes("é"), fin: false) + sFrame(0, bytes("😀"))),
            .send(.toServer, cFrame(8, closePayload(1005, "") + [0xFF])),
            .send(.toClient, sFrame(8, closePayload(4000, "app-defined"))),
        ])
        #expect(r.outputs == [
            .anomaly(.toClient, "websocket.invalid_utf8"), .message(.toClient, .text, [0x7B, 0xC3, 0x28, 0x7D]),
            .message(.toClient, .binary, [0xC3, 0x28]),
            text(.toClient, "é😀"),
            .anomaly(.toServer, "websocket.bad_close_code"), .anomaly(.toServer, "websocket.invalid_utf8"),
            .close(.toServer, code: 1005, reason: "\u{FFFD}"),
            .close(.toClient, code: 4000, reason: "app-defined"),
        ])
    }
}
