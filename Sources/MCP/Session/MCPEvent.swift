import SonarCore

/// How a JSON-RPC message travelled (the contract's `mcp.transport`).
public enum MCPTransport: String, Sendable {
    /// The JSON body of an HTTP request or response.
    case http
    /// One event of a `text/event-stream` response body.
    case sse
    /// One WebSocket text message.
    case websocket
    /// One line of newline-delimited JSON over a plain TCP connection (the Swift SDK's NetworkTransport).
    case tcp
}

/// HTTP context of a message carried over HTTP (Suricata's `http` field names).
public struct HTTPContext: Sendable, Equatable {
    // `status` first and constants: the implicit memberwise initializer (`status:method:url:host:`,
    // no defaults) then has another signature than the public one, which delegates to it (see
    // `MCPPayload`).
    public let status: Int?
    public let method: String?
    public let url: String?
    public let host: String?
}

extension HTTPContext {
    public init(method: String? = nil, url: String? = nil, host: String? = nil, status: Int? = nil) {
        self.init(status: status, method: method, url: url, host: host)
    }
}

/// One JSON-RPC message seen on the wire: the contract's `event_type: "mcp"`.
public struct MCPEvent: Sendable {
    public var timestamp: Timestamp
    public var flowId: UInt64
    /// The sender of the message and its receiver.
    public var source: Endpoint
    public var destination: Endpoint
    public var appProto: String
    public var transport: MCPTransport
    /// `toServer` when the client sent the message.
    public var direction: Direction = .toServer
    public var kind: JSONRPCKind
    public var id: JSONRPCID?
    public var method: String?
    public var tool: String?
    public var sessionId: String?
    public var protocolVersion: String?
    public var paramsSHA256: SHA256Value?
    public var size: Int
    /// Request-to-response time, on responses and errors whose request was seen.
    public var latencyMicroseconds: Int64?
    public var errorCode: Int?
    /// 2026-07-28 results: `complete` or `input_required`.
    public var resultType: String?
    /// The session's client and server, as `initialize` / `_meta` named them.
    public var clientName: String?
    public var clientVersion: String?
    public var serverName: String?
    public var serverVersion: String?
    public var http: HTTPContext?
    /// The message as compact JSON text, only when payloads are asked for.
    public var message: String?
    /// Headers that disagree with the message they carry (`mcp-method`, `mcp-name`): a protocol
    /// anomaly, since a gateway routing on the header and a server reading the body see different calls.
    public var headerMismatch: [String] = []
    /// A request whose id was still awaiting its response in the same scope.
    public var duplicateRequestId = false
    /// The server this message belongs to: `address:port` and URL path.
    public var serverKey: String = ""
    /// The tracker's number for the request this message is, or answers (when its request was
    /// seen): the same on both, whatever connection each came on (a legacy HTTP+SSE server
    /// answers a POST on its event stream). Not written out.
    public var exchange: Int? = nil
}

/// A JSON payload as the application layer delivers it: an HTTP body, an SSE event's data,
/// a WebSocket text message. The tracker finds the JSON-RPC messages in it.
public struct MCPPayload {
    // `bytes` first, so the implicit memberwise initializer (`bytes:time:...`) differs from the
    // public one below, which delegates to it: an initializer that assigns each field
    // (`self.time = time; ...`) built the payload in a temporary and then copied it whole, a
    // retain and a release of each of its dozen references for every payload (the optimiser
    // does not turn that copy into a move; the memberwise initializer builds the value in place).
    public var bytes: [UInt8]
    public var time: Timestamp
    public var flowId: UInt64
    public var client: Endpoint
    public var server: Endpoint
    public var direction: Direction
    public var transport: MCPTransport
    public var appProto: String
    /// Index of the HTTP request/response exchange on its connection: replies to a request come
    /// back in the same exchange, which pairs them exactly even before a session id is known.
    public var exchange: Int?
    /// `Mcp-Session-Id` (or the legacy SSE session id) of the message carrying the payload.
    public var sessionId: String?
    /// The `MCP-Protocol-Version` header of the request, when present.
    public var protocolVersionHeader: String?
    public var http: HTTPContext?
    /// 2026-07-28 request headers that restate the body: `Mcp-Method` and `Mcp-Name`.
    public var methodHeader: String?
    public var nameHeader: String?
}

extension MCPPayload {
    public init(time: Timestamp, flowId: UInt64, client: Endpoint, server: Endpoint, direction: Direction,
                transport: MCPTransport, appProto: String, exchange: Int? = nil, sessionId: String? = nil,
                protocolVersionHeader: String? = nil, http: HTTPContext? = nil,
                methodHeader: String? = nil, nameHeader: String? = nil, bytes: [UInt8]) {
        self.init(bytes: bytes, time: time, flowId: flowId, client: client, server: server, direction: direction,
                  transport: transport, appProto: appProto, exchange: exchange, sessionId: sessionId,
                  protocolVersionHeader: protocolVersionHeader, http: http, methodHeader: methodHeader,
                  nameHeader: nameHeader)
    }
}

/// A parsed message as the detectors read it: the whole document of its payload and where the
/// message sits in it (a batch holds several).
public struct MCPMessageView: Sendable {
    public let document: JSONDocument
    public let message: JSONRPCMessage
    public init(document: JSONDocument, message: JSONRPCMessage) {
        self.document = document
        self.message = message
    }
}
