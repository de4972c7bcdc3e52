import SonarCore
import SonarProtocols

/// One TCP connection's application layer as `Engine.deliver` runs it: every stream offered to
/// `HTTPConnectionParser` and, beside it, to `LineJSONParser` until one recognises it, the
/// client's first bytes to `TLSClientHelloParser`, and after a 101 to `Upgrade: websocket` a
/// `WebSocketConnectionParser` with the server's extensions, fed the bytes held past the
/// handshake and everything after.
///
/// Input: both directions in the `StreamSteps` format (client first). Limits are small so that
/// inputs of a few KB reach them.
///
/// Invariants: bodies, SSE events, lines and WebSocket messages within their limits; what the
/// HTTP parser holds within the sum of its limits; bytes held past an upgrade within their limit;
/// heads with no more fields than allowed.
enum HTTPFuzz {
    static let limits: HTTPLimits = {
        var l = HTTPLimits()
        l.maxHeaderBytes = 4096
        l.maxHeaders = 32
        l.maxBodyBytes = 32 << 10
        l.maxDecompressedBytes = 128 << 10
        l.maxDecompressionRatio = 100
        l.maxSSEEventBytes = 8192
        l.maxChunkLineBytes = 64
        l.maxTrailerBytes = 1024
        l.maxPendingRequests = 8
        l.maxUpgradeHoldBytes = 4096
        l.maxUndecidedBytes = 8192
        return l
    }()

    static let lineLimits: LineJSONLimits = {
        var l = LineJSONLimits()
        l.maxLineBytes = 8192
        l.sniffBytes = 1024
        return l
    }()

    static let webSocketLimits = WebSocketFuzz.limits

    /// A loose bound on what the HTTP parser may hold: every buffer of both directions at its limit.
    static let maxHeld = 2 * (limits.maxHeaderBytes + limits.maxBodyBytes + limits.maxDecompressedBytes
        + limits.maxSSEEventBytes + limits.maxChunkLineBytes + limits.maxTrailerBytes + limits.maxUpgradeHoldBytes
        + 2 * (256 << 10))  // two inflaters (zlib state and window, approximately)

    static func run(_ input: UnsafeRawBufferPointer) {
        let http = HTTPConnectionParser(limits: limits)
        var lines: LineJSONParser? = LineJSONParser(limits: lineLimits)
        var tls: TLSClientHelloParser? = TLSClientHelloParser()
        var webSocket: WebSocketConnectionParser?
        var upgrade: HTTPMessageContext?

        func onHTTP(_ output: HTTPOutput) {
            switch output {
            case .body(_, let context, let body):
                fuzzCheck(body.count <= max(limits.maxBodyBytes, limits.maxDecompressedBytes), "body of \(body.count) bytes")
                checkHeads(context)
            case .sseEvent(let context, let event):
                fuzzCheck(event.data.count <= limits.maxSSEEventBytes, "SSE event of \(event.data.count) bytes")
                checkHeads(context)
            case .requestHead(let context), .responseHead(let context):
                checkHeads(context)
            case .upgrade(let context):
                checkHeads(context)
                upgrade = context
            case .anomaly(_, let name):
                fuzzCheck(!name.isEmpty, "unnamed anomaly")
            }
        }

        func onLine(_ output: LineJSONOutput) {
            if case .message(_, let bytes) = output {
                fuzzCheck(bytes.count <= lineLimits.maxLineBytes, "line of \(bytes.count) bytes")
            }
        }

        for step in StreamSteps.parse(input) {
            switch step {
            case .feed(let toServer, let bytes):
                let direction: Direction = toServer ? .toServer : .toClient
                bytes.withUnsafeBytes { raw in
                    if let ws = webSocket {
                        ws.feed(raw, direction: direction, emit: WebSocketFuzz.check)
                        return
                    }
                    if toServer, let parser = tls {
                        switch parser.feed(raw) {
                        case .done(let hello):
                            fuzzCheck((hello.serverName?.utf8.count ?? 0) <= TLSClientHelloParser.maxRecordLength, "SNI too long")
                            tls = nil
                        case .notTLS: tls = nil
                        case .needMore: break
                        }
                    }
                    if http.isHTTP != false { http.feed(raw, direction: direction, emit: onHTTP) }
                    if let l = lines {
                        if http.isHTTP == true { lines = nil } else { l.feed(raw, direction: direction, emit: onLine) }
                    }
                }
            case .gap(let toServer, let length):
                let direction: Direction = toServer ? .toServer : .toClient
                if let ws = webSocket {
                    ws.gap(length, direction: direction, emit: WebSocketFuzz.check)
                } else {
                    if http.isHTTP != false { http.gap(length, direction: direction, emit: onHTTP) }
                    lines?.gap(length, direction: direction)
                }
            case .end(let toServer):
                let direction: Direction = toServer ? .toServer : .toClient
                if let ws = webSocket {
                    ws.end(direction: direction, emit: WebSocketFuzz.check)
                } else {
                    if http.isHTTP != false { http.end(direction: direction, emit: onHTTP) }
                    lines?.end(direction: direction, emit: onLine)
                }
            case .cut:
                break
            }
            if webSocket == nil, let context = upgrade, let response = context.response, response.status == 101,
               context.request?.headers["upgrade"]?.lowercased().contains("websocket") == true {
                // Engine.startWebSocket: the server's answer names the extensions.
                let handshake = WebSocketHandshake(subprotocol: response.headers["sec-websocket-protocol"],
                                                   extensions: response.headers["sec-websocket-extensions"])
                let ws = WebSocketConnectionParser(handshake: handshake, limits: webSocketLimits)
                webSocket = ws
                lines = nil
                for direction in [Direction.toServer, .toClient] {
                    let held = http.bytesAfterUpgrade(direction)
                    fuzzCheck(held.count <= limits.maxUpgradeHoldBytes, "\(held.count) bytes held past the upgrade")
                    if !held.isEmpty { held.withUnsafeBytes { ws.feed($0, direction: direction, emit: WebSocketFuzz.check) } }
                }
            }
            fuzzCheck(http.bufferedBytes <= maxHeld, "HTTP parser holds \(http.bufferedBytes) bytes")
        }
    }

    private static func checkHeads(_ context: HTTPMessageContext) {
        if let r = context.request { fuzzCheck(r.headers.fieldCount <= limits.maxHeaders, "request with \(r.headers.fieldCount) fields") }
        if let r = context.response { fuzzCheck(r.headers.fieldCount <= limits.maxHeaders, "response with \(r.headers.fieldCount) fields") }
    }
}
