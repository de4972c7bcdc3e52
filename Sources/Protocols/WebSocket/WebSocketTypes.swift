// Public value types of the WebSocket parser (RFC 6455) and its permessage-deflate
// negotiation (RFC 7692).
import SonarCore

/// Hard limits of one WebSocket connection parser. Every breach is reported as an anomaly and
/// bounded, never buffered past the limit.
public struct WebSocketLimits: Sendable, Equatable {
    /// A frame whose header declares a longer payload is skipped by count, never buffered.
    public var maxFrameBytes = 16 * 1024 * 1024
    /// An assembled message (after decompression) beyond this is dropped.
    public var maxMessageBytes = 16 * 1024 * 1024
    /// Decompressed output of one message beyond this is a decompression bomb.
    public var maxDecompressedBytes = 64 * 1024 * 1024
    /// Decompressed/compressed ratio beyond this (past the first 64 KiB) is a decompression bomb.
    public var maxDecompressionRatio = 1000
    /// RFC 6455 5.5: control frames carry at most 125 bytes.
    public var maxControlPayload = 125

    public init() {}
}

/// What the HTTP/1.1 Upgrade handshake negotiated, taken from the 101 response.
public struct WebSocketHandshake: Sendable, Equatable {
    /// The response's `Sec-WebSocket-Protocol` (e.g. "mcp").
    public var subprotocol: String?
    /// The 101 response's `Sec-WebSocket-Extensions` value: the server's choice is authoritative.
    public var extensions: String?

    public init(subprotocol: String? = nil, extensions: String? = nil) {
        self.subprotocol = subprotocol
        self.extensions = extensions
    }
}

/// The data opcode of a message's first frame.
public enum WebSocketMessageKind: String, Sendable {
    case text, binary
}

/// What the parser reports, in the order the bytes of one direction produce it.
public enum WebSocketOutput: Sendable, Equatable {
    /// A complete message: defragmented, unmasked and decompressed.
    case message(Direction, WebSocketMessageKind, [UInt8])
    case ping(Direction, [UInt8])
    case pong(Direction, [UInt8])
    /// A close frame: the status code (nil when the payload is empty) and the reason text.
    case close(Direction, code: Int?, reason: String)
    /// A protocol violation or limit breach ("websocket.bad_opcode", ...); also counted.
    case anomaly(Direction, String)
}

/// The permessage-deflate parameters the server accepted (RFC 7692 7.1).
public struct WebSocketDeflateParameters: Sendable, Equatable {
    public var enabled = false
    /// The client resets its compressor per message: client→server messages are independent.
    public var clientNoContextTakeover = false
    /// The server resets its compressor per message: server→client messages are independent.
    public var serverNoContextTakeover = false
    public var clientMaxWindowBits = 15
    public var serverMaxWindowBits = 15

    public init() {}

    /// Whether messages sent in `direction` are compressed independently of each other.
    public func noContextTakeover(_ direction: Direction) -> Bool {
        direction == .toServer ? clientNoContextTakeover : serverNoContextTakeover
    }

    /// The window the sender in `direction` compresses with (informational: inflating always
    /// uses a 32 KiB window, which decodes any smaller one).
    public func maxWindowBits(_ direction: Direction) -> Int {
        direction == .toServer ? clientMaxWindowBits : serverMaxWindowBits
    }

    /// Parses a 101 response's `Sec-WebSocket-Extensions` value. Returns the parameters and the
    /// anomaly names of what was malformed; a malformed parameter keeps its default (a real
    /// client would fail the connection, so nothing is lost by being lenient).
    public static func negotiated(from extensions: String?) -> (WebSocketDeflateParameters, [String]) {
        var p = WebSocketDeflateParameters()
        var anomalies: [String] = []
        guard let extensions else { return (p, anomalies) }
        // Parameter values are tokens (RFC 6455 9.1), so a comma never occurs inside one.
        for element in extensions.split(separator: ",") {
            let parts = element.split(separator: ";").map { trim($0) }
            guard let name = parts.first?.lowercased(), !name.isEmpty else { continue }
            guard name == "permessage-deflate" else {
                anomalies.append("websocket.unknown_extension")
                continue
            }
            if p.enabled {
                // The server must accept at most one offer.
                anomalies.append("websocket.bad_extension_params")
                continue
            }
            p.enabled = true
            var seen: Set<String> = []
            for param in parts.dropFirst() where !param.isEmpty {
                let kv = param.split(separator: "=", maxSplits: 1).map { trim($0) }
                let key = kv[0].lowercased()
                var value = kv.count > 1 ? kv[1] : nil
                if let v = value, v.count >= 2, v.hasPrefix("\""), v.hasSuffix("\"") {
                    value = String(v.dropFirst().dropLast())
                }
                if !seen.insert(key).inserted {
                    anomalies.append("websocket.bad_extension_params")
                    continue
                }
                switch key {
                case "server_no_context_takeover", "client_no_context_takeover":
                    if value != nil { anomalies.append("websocket.bad_extension_params") }
                    if key == "server_no_context_takeover" {
                        p.serverNoContextTakeover = true
                    } else {
                        p.clientNoContextTakeover = true
                    }
                case "server_max_window_bits", "client_max_window_bits":
                    // In a response both carry a value 8...15 (7.1.2); a bare one keeps 15.
                    var bits = 15
                    if let value {
                        if let b = Int(value), (8...15).contains(b), value.allSatisfy(\.isASCII) {
                            bits = b
                        } else {
                            anomalies.append("websocket.bad_extension_params")
                        }
                    } else if key == "server_max_window_bits" {
                        anomalies.append("websocket.bad_extension_params")
                    }
                    if key == "server_max_window_bits" {
                        p.serverMaxWindowBits = bits
                    } else {
                        p.clientMaxWindowBits = bits
                    }
                default:
                    anomalies.append("websocket.bad_extension_params")
                }
            }
        }
        return (p, anomalies)
    }

    /// `s` without leading and trailing spaces and tabs (whole Characters, as before). Walked by
    /// index: a String built from the reversed, dropped, reversed Characters went through the
    /// generic sequence initialiser and its metadata, about 100 000 instructions a parameter.
    static func trim(_ s: Substring) -> String {
        var start = s.startIndex, end = s.endIndex
        while start < end, s[start] == " " || s[start] == "\t" { s.formIndex(after: &start) }
        while start < end {
            let last = s.index(before: end)
            guard s[last] == " " || s[last] == "\t" else { break }
            end = last
        }
        return String(s[start..<end])
    }
}
