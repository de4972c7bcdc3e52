import Crypto
import SonarCore

/// Settings of the MCP layer.
public struct MCPConfig: Sendable {
    public var json = JSONLimits()
    /// Put each message's compact JSON into its event (`--payloads`).
    public var includePayloads = false
    /// Requests waiting for their response, across all sessions; the oldest are forgotten beyond it.
    public var maxPendingRequests = 100_000
    /// Sessions whose state (identities, protocol version) is remembered; the least recently used are forgotten.
    public var maxSessions = 100_000
    /// Servers whose tool inventory is kept, and tools kept per server.
    public var maxServers = 10_000
    public var maxToolsPerPage = 10_000
    /// Tools remembered per server (definitions first presented), and across all servers.
    public var maxToolsPerServer = 10_000
    public var maxToolsTotal = 200_000
    /// Longest text kept in session state (capabilities, instructions, identities); longer text
    /// is kept as its hash, so a hostile peer cannot make one session hold megabytes.
    public var maxStoredText = 4096
    public init() {}
}

/// Follows MCP sessions: finds the JSON-RPC messages in payloads, pairs responses with their
/// requests, and knows each session's id and protocol version. Turns every message into an event.
public final class MCPTracker {
    public let config: MCPConfig
    // Unchecked exclusivity on the three fields below (each touched for every payload or
    // message): every access is one load, store or `Counters.add`, which runs no code of the
    // tracker, so no two can overlap. The attribute holds only in this module: the session
    // stage reads the last two after every payload through accessors, not the stored fields.
    @exclusivity(unchecked) public private(set) var counters = Counters()
    public var messagesSeen: Int { storedMessagesSeen }
    @exclusivity(unchecked) private var storedMessagesSeen = 0
    /// Why the last payload given to `process` was not JSON (a limit, or invalid); nil when it was.
    public var lastRejection: JSONError? { storedLastRejection }
    @exclusivity(unchecked) private var storedLastRejection: JSONError?

    /// Where a request can be answered from. A request is filed under every scope that applies;
    /// a response is looked up from the narrowest scope to the widest.
    fileprivate enum Scope: Hashable {
        /// The same HTTP exchange (a POST and its response, JSON or SSE).
        case exchange(flow: UInt64, index: Int)
        /// The same MCP session id, on any connection.
        case session(String)
        /// The same connection (WebSocket, or HTTP before a session id exists).
        case flow(UInt64)
        /// The same client host and server endpoint, for sessionless servers that answer on another connection.
        case peers(IPAddress, Endpoint)
    }

    /// Made by `init(scope:requester:id:)`, in the extension at the end of this file (so that the
    /// memberwise initializer exists).
    fileprivate struct PendingKey: Equatable {
        let scope: Scope
        /// Who sent the request.
        let requester: Direction
        let id: JSONRPCID
        /// Hashed once when made (seeded: crafted ids cannot collide on purpose), for
        /// `PendingIndex`.
        let hash: UInt64

        static func == (a: PendingKey, b: PendingKey) -> Bool {
            a.hash == b.hash && a.requester == b.requester && a.id == b.id && a.scope == b.scope
        }
    }

    private struct PendingRequest {
        var method: String
        var tool: String?
        var time: Timestamp
        var protocolVersion: String?
        var keys: [PendingKey]
        /// initialize: what the client said of itself, for the session its response creates.
        var client: (name: String?, version: String?, capabilities: String?)? = nil
        /// tools/list: whether the request continued a listing with a cursor.
        var cursor = false
    }

    /// A request waiting in a slot of `waiting`, with its place in the order of arrival.
    private struct Waiting {
        var serial: Int
        var request: PendingRequest
    }
    private struct Arrival {
        var serial: Int
        var slot: Int
    }

    // Unchecked exclusivity on the request tables and the session table below: each access is
    // one standard-library operation, or one of `PendingIndex` whose closures only read
    // `waiting`, running no code that writes these tables and calling none of the tracker's
    // hooks, so no two can overlap. Touched a dozen times per message.
    /// Requests waiting for their answer, in slots reused when freed (at most
    /// `maxPendingRequests` + 1 live at once), filed under each of their keys in `pending`.
    @exclusivity(unchecked) private var waiting: [Waiting?] = []
    @exclusivity(unchecked) private var freeSlots: [Int] = []
    @exclusivity(unchecked) private var waitingCount = 0
    @exclusivity(unchecked) private var pending = PendingIndex()
    @exclusivity(unchecked) private var requestOrder: [Arrival] = []
    @exclusivity(unchecked) private var requestOrderHead = 0
    @exclusivity(unchecked) private var nextSerial = 0

    /// A session's state, held by reference so that each message updates it in place: as a
    /// value, its nine strings were copied (retained and released) out of the table and back
    /// on every message.
    private final class SessionState {
        /// Unchecked (a dozen accesses a message): each is a load or store, or an `inout` pass
        /// to `learnFromRequest`/`learnFromResult`, which read the message and write this info
        /// only; the one hook they reach (`observeTools`) is the session stage's, which appends
        /// to its own list and never reads a session.
        @exclusivity(unchecked) var info: MCPSessionInfo
        init(key: String) { info = MCPSessionInfo(key: key) }
    }
    @exclusivity(unchecked) private var sessions: [String: SessionState] = [:]
    @exclusivity(unchecked) private var sessionUse = 0
    /// Moves on whenever sessions leave the table, so a remembered state is known to be stale.
    private var sessionsGeneration = 0

    /// A flow's last payload's session and server keys and its session's state: a connection's
    /// messages repeat their session id, transport, ends and URL, so the keys are made (two
    /// Strings interpolated, one hashed) once per connection instead of once per message. Held
    /// by flow in a small direct-mapped table; every input of the keys is compared on use.
    /// A class, updated in place: an entry read out of an array of structs would be copied,
    /// retaining each of its strings, on every message. Its fields are unchecked: each access is
    /// one load or store (or a String comparison), running no code of this tracker.
    private final class FlowKeys {
        @exclusivity(unchecked) var flowId: UInt64 = 0
        @exclusivity(unchecked) var transport = MCPTransport.http
        @exclusivity(unchecked) var client = Endpoint(address: .v4(0), port: 0)
        @exclusivity(unchecked) var server = Endpoint(address: .v4(0), port: 0)
        @exclusivity(unchecked) var sessionId: String?
        @exclusivity(unchecked) var url: String?
        @exclusivity(unchecked) var sessionKey = ""
        @exclusivity(unchecked) var serverKey = ""
        @exclusivity(unchecked) var state: SessionState?
        @exclusivity(unchecked) var generation = 0

        func matches(_ p: MCPPayload) -> Bool {
            flowId == p.flowId && transport == p.transport && sessionId == p.sessionId && url == p.http?.url
                && client == p.client && server == p.server
        }
    }
    /// Slots by flow id. Flow ids count every connection, bulk ones too, so a thousand MCP
    /// connections at once spread over a few thousand ids: at 1 024 slots, 634 of the 14 298
    /// messages of `corpus-30MB` found their connection's keys pushed out by another's (the keys
    /// were made 6 115 times, 5 481 at 4 096: each connection's first message and every change of
    /// session id or URL make them anyway). One entry a slot (about 200 bytes and its strings).
    static let flowKeySlots = 4096
    @exclusivity(unchecked) private var flowKeys = [FlowKeys?](repeating: nil, count: flowKeySlots)
    /// Tool inventories by server (`address:port` and URL path).
    public private(set) var inventories: [String: ToolInventory] = [:]
    /// Tools remembered across all inventories (bounded by `maxToolsTotal`).
    private var toolsTotal = 0
    /// serverInfo names by server, as last announced.
    public private(set) var serverNames: [String: String] = [:]
    /// Called with every change to a server's tools (the detection layer alerts on them).
    public var observeTools: ((ToolObservation) -> Void)?

    public init(config: MCPConfig = .init()) {
        self.config = config
    }

    /// Finds the JSON-RPC messages in `payload` and emits one event per message, in order.
    public func process(_ payload: MCPPayload, emit: (MCPEvent) -> Void) {
        process(payload) { event, _ in emit(event) }
    }

    /// As `process(_:emit:)`, with each message's parsed form for the detectors. The view is
    /// valid only during the call.
    public func process(_ payload: MCPPayload, emit: (MCPEvent, MCPMessageView) -> Void) {
        let (parsed, rejection) = parse(payload)
        process(payload, parsed: parsed, rejection: rejection, emit: emit)
    }

    /// The JSON-RPC parse of a payload with this tracker's limits, counted in its counters.
    public func parse(_ payload: MCPPayload) -> (JSONRPCParseResult?, JSONError?) {
        var rejection: JSONError?
        let parsed = JSONRPC.parse(payload.bytes, limits: config.json, counters: &counters, rejection: &rejection)
        return (parsed, rejection)
    }

    /// As `process(_:emit:)` for a payload parsed already (by a worker thread, with
    /// `JSONRPC.parse` and this tracker's `config.json` limits, its counters kept there).
    /// `digests`: each message's `bodyDigest`, when that thread computed them too (one per
    /// message, in order; otherwise they are computed here).
    public func process(_ payload: MCPPayload, parsed: JSONRPCParseResult?, rejection: JSONError?,
                        digests: PerMessage<SHA256Value?> = PerMessage(), emit: (MCPEvent, MCPMessageView) -> Void) {
        storedLastRejection = rejection
        guard let parsed else {
            counters.add("mcp.payload_not_json")
            return
        }
        let doc = parsed.document
        let given = digests.count == parsed.messages.count
        var i = 0
        for message in parsed.messages {
            storedMessagesSeen += 1
            let digest = given ? digests.element(i) ?? nil : MCPTracker.bodyDigest(of: message, in: doc)
            i += 1
            event(for: message, in: doc, payload: payload, digest: digest, emit: emit)
        }
    }

    /// A message's `params_sha256`: the SHA-256 of its params (request, notification) or of its
    /// result or error (response), as sent. It depends on the message alone, so a worker thread
    /// computes it ahead of the session stage, whose thread does everything else of a message.
    public static func bodyDigest(of m: JSONRPCMessage, in doc: JSONDocument) -> SHA256Value? {
        let body = m.kind == .request || m.kind == .notification ? m.params : m.result ?? m.error
        guard let body else { return nil }
        return doc.raw(body).withUnsafeBytes { sha256($0) }
    }

    // MARK: - one message

    /// The event of one message, handed to `emit` with the message's view. Handed, not returned:
    /// returned, the optimiser copied the whole event (its twenty-odd references retained) and
    /// destroyed the original. `m` is consumed into the view: borrowed, it was copied once to be
    /// passed and once more into the view.
    private func event(for m: consuming JSONRPCMessage, in doc: JSONDocument, payload: MCPPayload,
                       digest: SHA256Value?, emit: (MCPEvent, MCPMessageView) -> Void) {
        let source = payload.direction == .toServer ? payload.client : payload.server
        let destination = payload.direction == .toServer ? payload.server : payload.client
        let slot = Int(truncatingIfNeeded: payload.flowId) & (flowKeys.count - 1)
        let memo = flowKeys[slot].flatMap { $0.matches(payload) ? $0 : nil }
        let sessionKey = memo?.sessionKey ?? MCPTracker.sessionKey(payload)
        var e = MCPEvent(timestamp: payload.time, flowId: payload.flowId, source: source, destination: destination,
                         appProto: payload.appProto, transport: payload.transport, kind: m.kind, id: m.id,
                         method: m.method, tool: nil, sessionId: payload.sessionId, protocolVersion: nil,
                         paramsSHA256: digest, size: doc.range(m.node).count, latencyMicroseconds: nil,
                         errorCode: m.errorCode, http: payload.http, message: nil)
        e.direction = payload.direction
        e.serverKey = memo?.serverKey ?? MCPTracker.serverKey(payload)

        // What the message itself says about the protocol version.
        var declared: String? = nil
        switch m.kind {
        case .request, .notification:
            if let params = m.params {
                if m.method == "tools/call", let name = doc.member(params, literal: "name") { e.tool = doc.string(name) }
                if m.method == "initialize", let v = doc.member(params, literal: "protocolVersion") { declared = doc.string(v) }
                if let v = doc.path(params, literal: "_meta", "io.modelcontextprotocol/protocolVersion") { declared = doc.string(v) }
            }
        case .response, .error:
            if let r = m.result, let t = doc.member(r, literal: "resultType") { e.resultType = doc.string(t) }
        }

        if m.kind == .request || m.kind == .notification {
            checkHeaders(of: m, in: doc, payload: payload, event: &e)
        }
        var version = declared ?? payload.protocolVersionHeader
        let (state, isNew) = touchSession(sessionKey, known: memo?.generation == sessionsGeneration ? memo?.state : nil)
        var initializingClient: (String?, String?, String?)? = nil
        if m.kind == .request || m.kind == .notification {
            learnFromRequest(m, in: doc, session: &state.info)
            if m.method == "notifications/tools/list_changed", payload.direction == .toClient {
                inventories[e.serverKey]?.listChangedAt = payload.time
            }
        }
        if m.kind == .request, let id = m.id, let method = m.method {
            var client: (String?, String?, String?)? = nil
            if method == "initialize", let params = m.params {
                let info = doc.member(params, literal: "clientInfo")
                client = (info.flatMap { doc.member($0, literal: "name") }.flatMap { doc.string($0) }.map(stored),
                          info.flatMap { doc.member($0, literal: "version") }.flatMap { doc.string($0) }.map(stored),
                          doc.member(params, literal: "capabilities").map { storedCapabilities($0, in: doc) })
            }
            initializingClient = client
            let cursor = method == "tools/list" && m.params.flatMap { doc.member($0, literal: "cursor") } != nil
            (e.duplicateRequestId, e.exchange) = file(id: id, method: method, tool: e.tool, version: version, payload: payload,
                                                      client: client, cursor: cursor)
        } else if m.kind == .response || m.kind == .error, let id = m.id {
            if case let (request, serial)? = answer(id: id, payload: payload) {
                e.exchange = serial
                e.method = request.method
                e.tool = request.tool
                e.latencyMicroseconds = max(0, payload.time.microseconds(since: request.time))
                if version == nil { version = request.protocolVersion }
                if let r = m.result {
                    learnFromResult(r, of: request, in: doc, payload: payload, server: e.serverKey, session: &state.info)
                    // The negotiated version is in the initialize result.
                    if request.method == "initialize", let v = doc.member(r, literal: "protocolVersion"), let s = doc.string(v) {
                        version = s
                        state.info.protocolVersion = s
                    }
                }
            } else {
                counters.add("mcp.response_unknown_id")
            }
        }
        if let v = version {
            // A request or notification states the version in use from here on.
            if m.kind == .request || m.kind == .notification { state.info.protocolVersion = v }
        } else {
            version = state.info.protocolVersion
        }
        if isNew { sessions[sessionKey] = state }
        if memo == nil {
            let k = flowKeys[slot] ?? FlowKeys()
            k.flowId = payload.flowId
            k.transport = payload.transport
            k.client = payload.client
            k.server = payload.server
            k.sessionId = payload.sessionId
            k.url = payload.http?.url
            k.sessionKey = sessionKey
            k.serverKey = e.serverKey
            flowKeys[slot] = k
        }
        flowKeys[slot]?.state = state
        flowKeys[slot]?.generation = sessionsGeneration
        e.protocolVersion = version
        e.clientName = state.info.clientName ?? initializingClient?.0
        e.clientVersion = state.info.clientVersion ?? initializingClient?.1
        e.serverName = state.info.serverName
        e.serverVersion = state.info.serverVersion
        if config.includePayloads { e.message = doc.compactText(m.node) }
        emit(e, MCPMessageView(document: doc, message: consume m))
    }

    /// 2026-07-28: `Mcp-Method` must equal the body's method, and `Mcp-Name` the `params.name`
    /// (tools/call, prompts/get) or `params.uri` (resources/read).
    private func checkHeaders(of m: JSONRPCMessage, in doc: JSONDocument, payload: MCPPayload, event e: inout MCPEvent) {
        if let header = payload.methodHeader, header != m.method {
            e.headerMismatch.append("mcp-method")
            counters.add("mcp.header_method_mismatch")
        }
        if let header = payload.nameHeader {
            let params = m.params
            let name = params.flatMap { doc.member($0, literal: "name") }.flatMap { doc.string($0) }
                ?? params.flatMap { doc.member($0, literal: "uri") }.flatMap { doc.string($0) }
            if header != name {
                e.headerMismatch.append("mcp-name")
                counters.add("mcp.header_name_mismatch")
            }
        }
    }

    // MARK: - request/response pairing

    /// The scopes a request is filed under and answered in, narrowest first (at most three);
    /// `body` returns false to stop. Given one by one, not as an array: an answer needs none
    /// kept, and a request keeps only its keys.
    private func forEachScope(of payload: MCPPayload, includeExchange: Bool, _ body: (Scope) -> Bool) {
        if includeExchange, let x = payload.exchange, !body(.exchange(flow: payload.flowId, index: x)) { return }
        if let s = payload.sessionId, !body(.session(s)) { return }
        if !body(.flow(payload.flowId)) { return }
        if payload.sessionId == nil { _ = body(.peers(payload.client.address, payload.server)) }
    }

    /// Files a request; true when its id was already waiting in one of its scopes.
    @discardableResult
    private func file(id: JSONRPCID, method: String, tool: String?, version: String?, payload: MCPPayload,
                      client: (String?, String?, String?)?, cursor: Bool) -> (duplicate: Bool, serial: Int) {
        var duplicate = false
        // A client's request is answered in the same HTTP exchange; a server's request (sent on an
        // SSE stream) is answered by a new POST, so only the wider scopes apply to it.
        var keys: [PendingKey] = []
        keys.reserveCapacity(3)
        forEachScope(of: payload, includeExchange: payload.direction == .toServer) {
            keys.append(PendingKey(scope: $0, requester: payload.direction, id: id))
            return true
        }
        let serial = nextSerial
        nextSerial += 1
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
        } else {
            slot = waiting.count
            waiting.append(nil)
        }
        // In its slot before it is filed: the index compares keys by reading the requests.
        waiting[slot] = Waiting(serial: serial, request: PendingRequest(
            method: method, tool: tool, time: payload.time, protocolVersion: version, keys: keys, client: client, cursor: cursor))
        waitingCount += 1
        for i in keys.indices {
            // Filed and the old holder of the key found in one probe; forgetting the old request
            // then leaves this key alone (it names the new one). By index: `for k in` copied each
            // key (its strings retained).
            if let old = pending.file(keys[i].hash, slot: slot, replacing: { $0 != slot && holds($0, keys[i]) }) {
                if !duplicate { counters.add("mcp.duplicate_request_id") }
                duplicate = true
                forget(slot: old)
            }
        }
        requestOrder.append(Arrival(serial: serial, slot: slot))
        while waitingCount > config.maxPendingRequests, requestOrderHead < requestOrder.count {
            let oldest = requestOrder[requestOrderHead]
            requestOrderHead += 1
            if let w = waiting[oldest.slot], w.serial == oldest.serial {
                counters.add("mcp.pending_evicted")
                forget(slot: oldest.slot)
            }
        }
        // Keep the order queue from growing without bound once its head has moved on.
        if requestOrderHead > 4096 && requestOrderHead * 2 > requestOrder.count {
            requestOrder.removeFirst(requestOrderHead)
            requestOrderHead = 0
        }
        return (duplicate, serial)
    }

    /// Whether the request in `slot` is filed under `key`.
    private func holds(_ slot: Int, _ key: PendingKey) -> Bool {
        // Read in place: `waiting[slot]?.request.keys` copied the whole waiting request.
        waiting.withUnsafeBufferPointer { w in
            guard slot >= 0, slot < w.count, let entry = w[slot] else { return false }
            return entry.request.keys.contains(key)
        }
    }

    /// The request `id` answers, with its serial number.
    private func answer(id: JSONRPCID, payload: MCPPayload) -> (PendingRequest, Int)? {
        let requester = payload.direction.reversed
        var answered: (PendingRequest, Int)? = nil
        forEachScope(of: payload, includeExchange: true) { scope in
            let key = PendingKey(scope: scope, requester: requester, id: id)
            guard let slot = pending.find(key.hash, where: { holds($0, key) }) else { return true }
            let serial = waiting[slot]?.serial
            if let request = forget(slot: slot), let serial { answered = (request, serial) }
            return false
        }
        return answered
    }

    /// Takes the request out of `slot` and its keys out of the index.
    @discardableResult
    private func forget(slot: Int) -> PendingRequest? {
        guard let w = waiting[slot].take() else { return nil }
        freeSlots.append(slot)
        waitingCount -= 1
        for k in w.request.keys { pending.remove(k.hash, slot: slot) }
        return w.request
    }

    // MARK: - sessions

    /// The session a payload belongs to: its session id; else the connection (WebSocket, raw TCP:
    /// one connection is one session); else the client host and server (sessionless HTTP).
    static func sessionKey(_ p: MCPPayload) -> String {
        if let id = p.sessionId { return "id:" + id }
        if p.transport == .websocket || p.transport == .tcp { return "flow:\(p.flowId)" }
        return "peer:\(p.client.address)>\(p.server)"
    }

    /// A server: its address, port and URL path (one port may serve several MCP servers).
    static func serverKey(_ p: MCPPayload) -> String {
        let url = p.http?.url ?? ""
        guard case .v4 = p.server.address else {
            var path = url
            if path.utf8.contains(UInt8(ascii: "?")), let q = path.firstIndex(of: "?") { path = String(path[..<q]) }
            return "\(p.server)\(path)"
        }
        // An IPv4 server's key written in one buffer: interpolated, it cost about 1 100
        // instructions (the endpoint's text, the path's copy, the joining).
        return url.withUTF8Bytes { u in
            let pathCount = u.firstIndex(of: UInt8(ascii: "?")) ?? u.count
            return String(unsafeUninitializedCapacity: Endpoint.maxIPv4TextBytes + pathCount) { out in
                let n = p.server.writeIPv4Text(into: out)
                if pathCount > 0, let path = u.baseAddress, let to = out.baseAddress {
                    (to + n).update(from: path, count: pathCount)
                }
                return n + pathCount
            }
        }
    }

    /// Whether `server` listed `tool` in its tools; nil when no complete listing was seen.
    public func isToolListed(server: String, tool: String) -> Bool? {
        guard let inventory = inventories[server], inventory.listings > 0 else { return nil }
        return inventory.tools[tool] != nil
    }

    /// The session's state, marked used; a new one is not in the table yet (the caller adds it
    /// once the message is read). `known`: the state of `key` remembered for the flow, still in
    /// the table (no lookup then).
    private func touchSession(_ key: String, known remembered: SessionState? = nil) -> (SessionState, isNew: Bool) {
        sessionUse += 1
        if let known = remembered ?? sessions[key] {
            known.info.lastUsed = sessionUse
            return (known, false)
        }
        if sessions.count >= config.maxSessions {
            // Forget the least recently used half at once, so this stays rare.
            let cut = sessions.values.map(\.info.lastUsed).sorted()[sessions.count / 2]
            sessions = sessions.filter { $0.value.info.lastUsed > cut }
            sessionsGeneration += 1
            counters.add("mcp.sessions_evicted")
        }
        let s = SessionState(key: key)
        s.info.lastUsed = sessionUse
        return (s, true)
    }

    /// 2026-07-28 requests say who the client is in every request's `_meta`.
    private func learnFromRequest(_ m: JSONRPCMessage, in doc: JSONDocument, session: inout MCPSessionInfo) {
        guard let params = m.params, let meta = doc.member(params, literal: "_meta") else { return }
        if let info = doc.member(meta, literal: "io.modelcontextprotocol/clientInfo") {
            session.clientName = doc.member(info, literal: "name").flatMap { doc.string($0) }.map(stored) ?? session.clientName
            session.clientVersion = doc.member(info, literal: "version").flatMap { doc.string($0) }.map(stored) ?? session.clientVersion
        }
        if let caps = doc.member(meta, literal: "io.modelcontextprotocol/clientCapabilities") {
            session.clientCapabilities = storedCapabilities(caps, in: doc)
        }
    }

    /// `server`: the payload's server key (`serverKey(payload)`, the event's, made once).
    private func learnFromResult(_ r: JSONRef, of request: PendingRequest, in doc: JSONDocument,
                                 payload: MCPPayload, server: String, session: inout MCPSessionInfo) {
        if let client = request.client {
            session.clientName = client.name ?? session.clientName
            session.clientVersion = client.version ?? session.clientVersion
            session.clientCapabilities = client.capabilities ?? session.clientCapabilities
        }
        let info = doc.member(r, literal: "serverInfo") ?? doc.path(r, literal: "_meta", "io.modelcontextprotocol/serverInfo")
        if let info {
            session.serverName = doc.member(info, literal: "name").flatMap { doc.string($0) }.map(stored) ?? session.serverName
            if let name = session.serverName, serverNames.count < config.maxServers || serverNames[server] != nil {
                serverNames[server] = name
            }
            session.serverVersion = doc.member(info, literal: "version").flatMap { doc.string($0) }.map(stored) ?? session.serverVersion
        }
        if request.method == "initialize" || request.method == "server/discover" {
            if let caps = doc.member(r, literal: "capabilities") {
                session.serverCapabilities = storedCapabilities(caps, in: doc)
            }
            if let text = doc.member(r, literal: "instructions").flatMap({ doc.string($0) }) { session.instructions = stored(text) }
        }
        if request.method == "tools/list", let tools = doc.member(r, literal: "tools"), doc.kind(tools) == .array {
            takeToolsPage(tools, more: doc.member(r, literal: "nextCursor").map { !doc.isNull($0) } ?? false,
                          continuation: request.cursor, in: doc, payload: payload, server: server)
        }
    }

    /// The SHA-256 of a tool's canonical JSON and of each of its members. A pure function of the
    /// tool's bytes as sent, and the same definitions come back in every session's tools/list:
    /// recent ones are kept so each is canonicalised and hashed once. Direct-mapped by a hash of
    /// the bytes and compared in full (a collision only costs the hashing); a `Dictionary` keyed
    /// by the bytes hashed the whole definition with SipHash on every lookup.
    private func toolHashes(_ t: JSONRef, in doc: JSONDocument) -> (sha256: String, members: [String: String]) {
        doc.bytes.withUnsafeBytes { all in
            toolHashCache.value(for: UnsafeRawBufferPointer(rebasing: all[doc.range(t)])) {
                var members: [String: String] = [:]
                doc.forEachMember(t) { k, v in
                    if let key = doc.string(k) { members[key] = MCPTracker.sha256Hex(ArraySlice(doc.canonicalUTF8(v))) }
                    return true
                }
                return (MCPTracker.sha256Hex(ArraySlice(doc.canonicalUTF8(t))), members)
            }
        }
    }

    /// A capabilities object as the session keeps it: its canonical JSON (`stored`), kept by the
    /// object's bytes as sent. A server answers every session's `initialize` with the same
    /// capabilities, a client sends the same ones in each session (and, from 2026-07-28, in every
    /// request's `_meta`): made each time, the canonical form (members sorted at every depth, and a
    /// SHA-256 of it when long) cost about 9 600 instructions a server's `initialize` result.
    private func storedCapabilities(_ caps: JSONRef, in doc: JSONDocument) -> String {
        doc.bytes.withUnsafeBytes { all in
            capabilitiesCache.value(for: UnsafeRawBufferPointer(rebasing: all[doc.range(caps)])) {
                stored(String(decoding: doc.canonicalUTF8(caps), as: UTF8.self))
            }
        }
    }

    /// At most `capabilitiesSlotCount` objects of at most `maxCachedCapabilitiesBytes` bytes are
    /// kept (a client's and a server's are a few hundred bytes); larger ones are made each time.
    private let capabilitiesCache = BytesCache<String>(slotCount: MCPTracker.capabilitiesSlotCount,
                                                       maxBytes: MCPTracker.maxCachedCapabilitiesBytes,
                                                       seed: 0x2D35_8DCC_AA6C_78A5)
    static let capabilitiesSlotCount = 64
    static let maxCachedCapabilitiesBytes = 4 << 10

    /// At most `toolHashSlotCount` definitions of at most `maxCachedToolBytes` bytes are kept;
    /// larger definitions are hashed each time.
    private let toolHashCache = BytesCache<(sha256: String, members: [String: String])>(
        slotCount: MCPTracker.toolHashSlotCount, maxBytes: MCPTracker.maxCachedToolBytes, seed: 0x5851_F42D_4C95_7F2D)
    static let toolHashSlotCount = 512
    static let maxCachedToolBytes = 8 << 10

    private func takeToolsPage(_ tools: JSONRef, more: Bool, continuation: Bool, in doc: JSONDocument, payload: MCPPayload,
                               server: String) {
        var page: [ToolDefinition] = []
        doc.forEachElement(tools) { t in
            guard page.count < config.maxToolsPerPage else {
                counters.add("mcp.tools_page_limit")
                return false
            }
            guard let name = doc.member(t, literal: "name").flatMap({ doc.string($0) }) else {
                counters.add("mcp.tool_without_name")
                return true
            }
            let hashes = toolHashes(t, in: doc)
            page.append(ToolDefinition(name: name, sha256: hashes.sha256,
                                       description: doc.member(t, literal: "description").flatMap { doc.string($0) },
                                       firstSeen: payload.time, lastSeen: payload.time, index: page.count,
                                       memberSHA256: hashes.members))
            return true
        }
        if inventories[server] == nil && inventories.count >= config.maxServers {
            counters.add("mcp.inventory_limit")
            return
        }
        var inventory = inventories[server] ?? ToolInventory(server: server)
        let before = inventory.knownTools
        let room = min(config.maxToolsPerServer, max(0, config.maxToolsTotal - toolsTotal + before))
        let observations = inventory.apply(page: page, continuation: continuation, more: more, time: payload.time,
                                           maxTools: room)
        toolsTotal += inventory.knownTools - before
        if inventory.droppedTools > 0 { counters.add("mcp.inventory_tools_limit", inventory.droppedTools) }
        inventory.droppedTools = 0
        inventories[server] = inventory
        for o in observations {
            switch o {
            case .added: counters.add("mcp.tool_added")
            case .changed: counters.add("mcp.tool_changed")
            case .removed: counters.add("mcp.tool_removed")
            }
            observeTools?(o)
        }
    }

    /// Text kept as is when short, else as `sha256:<hex>` (session state must stay small).
    private func stored(_ s: String) -> String {
        s.utf8.count <= config.maxStoredText ? s : "sha256:" + MCPTracker.sha256Hex(ArraySlice(Array(s.utf8)))
    }

    /// What the sensor knows of a session (tests and the detection layer).
    public func session(_ key: String) -> MCPSessionInfo? { sessions[key]?.info }

    /// SHA-256 of `bytes`.
    public static func sha256(_ bytes: UnsafeRawBufferPointer) -> SHA256Value {
        var h = SHA256()
        h.update(bufferPointer: bytes)
        return h.finalize().withUnsafeBytes { SHA256Value($0) }
    }

    static func sha256Hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.withUnsafeBytes { sha256($0) }.hex
    }
}

extension MCPTracker.PendingKey {
    /// Through the memberwise initializer: one assigning each field built the key in a temporary
    /// and copied it (see `MCPPayload`).
    init(scope: MCPTracker.Scope, requester: Direction, id: JSONRPCID) {
        var h = Hasher()
        h.combine(scope)
        h.combine(requester)
        h.combine(id)
        self.init(scope: scope, requester: requester, id: id, hash: UInt64(truncatingIfNeeded: h.finalize()))
    }
}
