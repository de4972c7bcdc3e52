import SonarCore
import SonarProtocols

/// `WebSocketConnectionParser` after a handshake, as `Engine.startWebSocket` starts it, both
/// directions interleaved.
///
/// Input: byte 0 picks the server's `Sec-WebSocket-Extensions` answer (permessage-deflate with
/// the parameters of RFC 7692 in several combinations, a few broken ones, or none); the rest is
/// both directions in the `StreamSteps` format (client first).
///
/// Invariants: messages within the message and decompression limits, control payloads within
/// 125 bytes, close reasons within their frame.
enum WebSocketFuzz {
    static let extensionChoices: [String?] = [
        "permessage-deflate",
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; client_max_window_bits=9; server_max_window_bits=10",
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=15; client_max_window_bits=15",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; unknown_parameter",
        "permessage-deflate, permessage-deflate; client_no_context_takeover",
        "x-webkit-deflate-frame",
        nil,
    ]

    static let limits: WebSocketLimits = {
        var l = WebSocketLimits()
        l.maxFrameBytes = 32 << 10
        l.maxMessageBytes = 32 << 10
        l.maxDecompressedBytes = 128 << 10
        l.maxDecompressionRatio = 100
        return l
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzReader(input)
        let choice = extensionChoices[Int(reader.byte()) % extensionChoices.count]
        let parser = WebSocketConnectionParser(handshake: WebSocketHandshake(subprotocol: "mcp", extensions: choice),
                                               limits: limits)
        for step in StreamSteps.parse(reader.rest()) {
            switch step {
            case .feed(let toServer, let bytes):
                bytes.withUnsafeBytes { parser.feed($0, direction: toServer ? .toServer : .toClient, emit: check) }
            case .gap(let toServer, let length):
                parser.gap(length, direction: toServer ? .toServer : .toClient, emit: check)
            case .end(let toServer):
                parser.end(direction: toServer ? .toServer : .toClient, emit: check)
            case .cut:
                break
            }
        }
        for direction in [Direction.toServer, .toClient] { parser.end(direction: direction, emit: check) }
    }

    static func check(_ output: WebSocketOutput) {
        switch output {
        case .message(_, _, let bytes):
            fuzzCheck(bytes.count <= max(limits.maxMessageBytes, limits.maxDecompressedBytes), "message of \(bytes.count) bytes")
        case .ping(_, let bytes), .pong(_, let bytes):
            fuzzCheck(bytes.count <= limits.maxControlPayload, "control payload of \(bytes.count) bytes")
        case .close(_, let code, let reason):
            fuzzCheck(reason.utf8.count <= limits.maxControlPayload * 3, "close reason of \(reason.utf8.count) bytes")
            if let code { fuzzCheck(code >= 0 && code <= 0xFFFF, "close code \(code)") }
        case .anomaly(_, let name):
            fuzzCheck(!name.isEmpty, "unnamed anomaly")
        }
    }
}
