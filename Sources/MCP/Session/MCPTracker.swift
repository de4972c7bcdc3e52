import Crypto
import SonarCore

/// Settings of the MCP layer.
public struct MCPConfig: Sendable {
    public var json = JSONLimits()
    /// Put each message's compact JSON into its event (`--payloads`).
    public var includePayloads = false
    /// Requests waiting for their response, across all sessions; the oldest are forgotten beyond it.
    public var maxPendingRequests = 100_000
    /// Sessions whose state (protocol version) is remembered; the least recently used are forgotten.
    public var maxSessions = 100_000
    public init() {}
}

/// Follows MCP sessions: finds the JSON-RPC messages in payloads, pairs responses with their
/// requests, and knows each session's id and protocol version. Turns every message into an event.
public final class MCPTracker {
    public let config: MCPConfig
    public private(set) var counters = Counters()
    public private(set) var messagesSeen = 0

    /// Where a request can be answered from. A request is filed under every scope that applies;
    /// a response is looked up from the narrowest scope to the widest.
    private enum Scope: Hashable {
        /// The same HTTP exchange (a POST and its response, JSON or SSE).
        case exchange(flow: UInt64, index: Int)
        /// The same MCP session id, on any connection.
        case session(String)
        /// The same connection (WebSocket, or HTTP before a session id exists).
        case flow(UInt64)
        /// The same client host and server endpoint, for sessionless servers that answer on another connection.
        case peers(IPAddress, Endpoint)
    }

    private struct PendingKey: Hashable {
        var scope: Scope
        /// Who sent the request.
        var requester: Direction
        var id: JSONRPCID
    }

    private struct PendingRequest {
        var method: String
        var tool: String?
        var time: Timestamp
        var protocolVersion: String?
        var keys: [PendingKey]
    }

    private var pending: [PendingKey: Int] = [:]
    private var requests: [Int: PendingRequest] = [:]
    private var requestOrder: [Int] = []
    private var requestOrderHead = 0
    private var nextSerial = 0

    private struct SessionState {
        var protocolVersion: String?
        var lastUsed: Int
    }

    private var sessions: [String: SessionState] = [:]
    private var sessionUse = 0

    public init(config: MCPConfig = .init()) {
        self.config = config
    }

    /// Finds the JSON-RPC messages in `payload` and emits one event per message, in order.
    public func process(_ payload: MCPPayload, emit: (MCPEvent) -> Void) {
        guard let parsed = JSONRPC.parse(payload.bytes, limits: config.json, counters: &counters) else {
            counters.add("mcp.payload_not_json")
            return
        }
        let doc = parsed.document
        for message in parsed.messages {
            messagesSeen += 1
            emit(event(for: message, in: doc, payload: payload))
        }
    }

    // MARK: - one message

    private func event(for m: JSONRPCMessage, in doc: JSONDocument, payload: MCPPayload) -> MCPEvent {
        let source = payload.direction == .toServer ? payload.client : payload.server
        let destination = payload.direction == .toServer ? payload.server : payload.client
        let sessionKey = payload.sessionId
        var e = MCPEvent(timestamp: payload.time, flowId: payload.flowId, source: source, destination: destination,
                         appProto: payload.appProto, transport: payload.transport, kind: m.kind, id: m.id,
                         method: m.method, tool: nil, sessionId: payload.sessionId, protocolVersion: nil,
                         paramsSHA256: nil, size: doc.range(m.node).count, latencyMicroseconds: nil,
                         errorCode: m.errorCode, http: payload.http, message: nil)

        // What the message itself says about the protocol version.
        var declared: String? = nil
        switch m.kind {
        case .request, .notification:
            if let params = m.params {
                e.paramsSHA256 = MCPTracker.sha256Hex(doc.raw(params))
                if m.method == "tools/call", let name = doc.member(params, "name") { e.tool = doc.string(name) }
                if m.method == "initialize", let v = doc.member(params, "protocolVersion") { declared = doc.string(v) }
                if let v = doc.path(params, "_meta", "io.modelcontextprotocol/protocolVersion") { declared = doc.string(v) }
            }
        case .response, .error:
            if let body = m.result ?? m.error { e.paramsSHA256 = MCPTracker.sha256Hex(doc.raw(body)) }
        }

        var version = declared ?? payload.protocolVersionHeader
        if m.kind == .request, let id = m.id, let method = m.method {
            file(id: id, method: method, tool: e.tool, version: version, payload: payload)
        } else if m.kind == .response || m.kind == .error, let id = m.id {
            if let request = answer(id: id, payload: payload) {
                e.method = request.method
                e.tool = request.tool
                e.latencyMicroseconds = max(0, payload.time.microseconds - request.time.microseconds)
                if version == nil { version = request.protocolVersion }
                // The negotiated version is in the initialize result.
                if request.method == "initialize", let r = m.result, let v = doc.member(r, "protocolVersion"),
                   let s = doc.string(v) {
                    version = s
                    if let key = sessionKey { remember(version: s, session: key) }
                }
            } else {
                counters.add("mcp.response_unknown_id")
            }
        }
        if let v = version {
            // A request or notification states the version in use from here on.
            if m.kind == .request || m.kind == .notification, let key = sessionKey { remember(version: v, session: key) }
        } else if let key = sessionKey {
            version = recall(session: key)
        }
        e.protocolVersion = version
        if config.includePayloads { e.message = doc.compactText(m.node) }
        return e
    }

    // MARK: - request/response pairing

    private func scopes(for payload: MCPPayload, requester: Direction, includeExchange: Bool) -> [Scope] {
        var result: [Scope] = []
        if includeExchange, let x = payload.exchange { result.append(.exchange(flow: payload.flowId, index: x)) }
        if let s = payload.sessionId { result.append(.session(s)) }
        result.append(.flow(payload.flowId))
        if payload.sessionId == nil { result.append(.peers(payload.client.address, payload.server)) }
        return result
    }

    private func file(id: JSONRPCID, method: String, tool: String?, version: String?, payload: MCPPayload) {
        // A client's request is answered in the same HTTP exchange; a server's request (sent on an
        // SSE stream) is answered by a new POST, so only the wider scopes apply to it.
        let keys = scopes(for: payload, requester: payload.direction,
                          includeExchange: payload.direction == .toServer)
            .map { PendingKey(scope: $0, requester: payload.direction, id: id) }
        let serial = nextSerial
        nextSerial += 1
        for k in keys {
            if let old = pending[k], requests[old] != nil {
                counters.add("mcp.duplicate_request_id")
                forget(serial: old)
            }
            pending[k] = serial
        }
        requests[serial] = PendingRequest(method: method, tool: tool, time: payload.time, protocolVersion: version, keys: keys)
        requestOrder.append(serial)
        while requests.count > config.maxPendingRequests, requestOrderHead < requestOrder.count {
            let oldest = requestOrder[requestOrderHead]
            requestOrderHead += 1
            if requests[oldest] != nil {
                counters.add("mcp.pending_evicted")
                forget(serial: oldest)
            }
        }
        // Keep the order queue from growing without bound once its head has moved on.
        if requestOrderHead > 4096 && requestOrderHead * 2 > requestOrder.count {
            requestOrder.removeFirst(requestOrderHead)
            requestOrderHead = 0
        }
    }

    private func answer(id: JSONRPCID, payload: MCPPayload) -> PendingRequest? {
        let requester = payload.direction.reversed
        for scope in scopes(for: payload, requester: requester, includeExchange: true) {
            if let serial = pending[PendingKey(scope: scope, requester: requester, id: id)],
               let request = requests[serial] {
                forget(serial: serial)
                return request
            }
        }
        return nil
    }

    private func forget(serial: Int) {
        guard let r = requests.removeValue(forKey: serial) else { return }
        for k in r.keys where pending[k] == serial { pending[k] = nil }
    }

    // MARK: - sessions

    private func remember(version: String, session: String) {
        sessionUse += 1
        sessions[session] = SessionState(protocolVersion: version, lastUsed: sessionUse)
        if sessions.count > config.maxSessions {
            // Forget the least recently used half at once, so this stays rare.
            let cut = sessions.values.map(\.lastUsed).sorted()[sessions.count / 2]
            sessions = sessions.filter { $0.value.lastUsed > cut }
            counters.add("mcp.sessions_evicted")
        }
    }

    private func recall(session: String) -> String? {
        guard var s = sessions[session] else { return nil }
        sessionUse += 1
        s.lastUsed = sessionUse
        sessions[session] = s
        return s.protocolVersion
    }

    static func sha256Hex(_ bytes: ArraySlice<UInt8>) -> String {
        let digest = SHA256.hash(data: bytes)
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for b in digest {
            out.append(hex[Int(b >> 4)])
            out.append(hex[Int(b & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
