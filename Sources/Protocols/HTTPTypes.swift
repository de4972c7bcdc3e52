// The value types the HTTP/1.x and SSE parsers hand to the layers above.
import SonarCore

/// Header fields of an HTTP message exactly as sent: original spelling, original order,
/// duplicates kept. Lookups are case-insensitive (RFC 9110 5.1).
public struct HTTPHeaders: Sendable, Equatable {
    /// One field as sent. A struct, not a tuple: an array of tuples is copied and destroyed
    /// element by element through the run time's generic tuple witnesses (a head's fields are
    /// freed with every message).
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public var entries: [Field]

    public init(_ entries: [(name: String, value: String)] = []) {
        self.entries = entries.map { Field(name: $0.name, value: $0.value) }
    }

    public init(fields: [Field]) { self.entries = fields }

    /// The value of the first field called `name` (any case), or nil.
    public subscript(_ name: String) -> String? {
        // By index, lengths first: most names differ in length, and copying each entry out
        // retains and releases both of its strings.
        let length = name.utf8.count
        for i in entries.indices where entries[i].name.utf8.count == length {
            if asciiCaseInsensitiveEquals(entries[i].name, name) { return entries[i].value }
        }
        return nil
    }

    /// How many fields are called `name` (any case).
    public func count(_ name: String) -> Int {
        let length = name.utf8.count
        var n = 0
        for i in entries.indices where entries[i].name.utf8.count == length {
            if asciiCaseInsensitiveEquals(entries[i].name, name) { n += 1 }
        }
        return n
    }

    /// Every value of the fields called `name` (any case), in the order sent.
    public func values(_ name: String) -> [String] {
        let length = name.utf8.count
        var out: [String] = []
        for i in entries.indices where entries[i].name.utf8.count == length {
            if asciiCaseInsensitiveEquals(entries[i].name, name) { out.append(entries[i].value) }
        }
        return out
    }
}

/// ASCII-only case folding: header names are tokens, so Unicode case rules never apply.
@inline(__always)
func asciiCaseInsensitiveEquals(_ a: String, _ b: String) -> Bool {
    // UTF-8 counts are O(1) for native strings: most names differ in length.
    if a.utf8.count != b.utf8.count { return false }
    // Native strings are contiguous UTF-8: compared as bytes (an iterator costs ~800
    // instructions a header lookup, measured).
    let fast: Bool? = a.utf8.withContiguousStorageIfAvailable { x in
        b.utf8.withContiguousStorageIfAvailable { y in
            for i in 0..<x.count where x[i] != y[i] && lowerASCII(x[i]) != lowerASCII(y[i]) { return false }
            return true
        }
    } ?? nil
    if let fast { return fast }
    var ia = a.utf8.makeIterator(), ib = b.utf8.makeIterator()
    while true {
        switch (ia.next(), ib.next()) {
        case (nil, nil): return true
        case (let x?, let y?):
            if x != y && lowerASCII(x) != lowerASCII(y) { return false }
        default: return false
        }
    }
}

@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

/// True if `haystack` contains `needle` (given in lowercase ASCII), ignoring ASCII case.
/// Asked of every body's Content-Type: the bytes are read where they are (a native String's
/// UTF-8 is contiguous), not copied into two arrays first.
func asciiContainsLowercased(_ haystack: String, _ needle: String) -> Bool {
    haystack.withUTF8Bytes { h in
        needle.withUTF8Bytes { n in
            if n.isEmpty { return true }
            guard h.count >= n.count else { return false }
            outer: for start in 0...(h.count - n.count) {
                for j in 0..<n.count where lowerASCII(h[start + j]) != n[j] { continue outer }
                return true
            }
            return false
        }
    }
}

/// The start line and header fields of a request.
public struct HTTPRequestHead: Sendable, Equatable {
    public var method: String
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
    public var headers: HTTPHeaders

    public init(method: String, target: String, versionMinor: Int, headers: HTTPHeaders) {
        self.method = method; self.target = target; self.versionMinor = versionMinor; self.headers = headers
    }
}

/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var status: Int
    public var reason: String
    public var versionMinor: Int
    public var headers: HTTPHeaders

    public init(status: Int, reason: String, versionMinor: Int, headers: HTTPHeaders) {
        self.status = status; self.reason = reason; self.versionMinor = versionMinor; self.headers = headers
    }
}

/// One dispatched Server-Sent Event.
public struct SSEEvent: Sendable, Equatable {
    /// The `event:` field, or "message" when the event had none (or an empty one).
    public var event: String
    /// The `data:` lines joined with LF (no trailing LF). Empty for an event without data.
    public var data: [UInt8]
    /// The `id:` field of this event (not the inherited last-event-ID); nil if it had none.
    public var id: String?
    /// The `retry:` field of this event when it was all ASCII digits.
    public var retry: Int?

    public init(event: String = "message", data: [UInt8], id: String? = nil, retry: Int? = nil) {
        self.event = event; self.data = data; self.id = id; self.retry = retry
    }
}

/// What a body or event belongs to: the request, and (for to-client data) the response.
public struct HTTPMessageContext: Sendable, Equatable {
    /// 0, 1, 2… in request order on this connection. A response whose request was never seen
    /// (connection picked up mid-stream, request lost in a gap) gets the next unused index.
    public var exchangeIndex: Int
    public var request: HTTPRequestHead?
    public var response: HTTPResponseHead?

    public init(exchangeIndex: Int, request: HTTPRequestHead?, response: HTTPResponseHead?) {
        self.exchangeIndex = exchangeIndex; self.request = request; self.response = response
    }
}

/// Everything `HTTPConnectionParser` reports, in stream order.
public enum HTTPOutput: Sendable, Equatable {
    /// A complete request head (the request now waits for its response).
    case requestHead(HTTPMessageContext)
    /// A complete response head, interim (1xx) ones included.
    case responseHead(HTTPMessageContext)
    /// A complete, de-chunked, decompressed body whose Content-Type mentions "json" (or that
    /// has no Content-Type and starts, after white space, with '{' or '['). Empty bodies and
    /// damaged bodies (a gap inside) are not reported; other bodies are skipped by count.
    case body(Direction, HTTPMessageContext, [UInt8])
    /// One dispatched event of a `text/event-stream` response body.
    case sseEvent(HTTPMessageContext, SSEEvent)
    /// The connection stopped being HTTP: a 101 response, or a 2xx answer to CONNECT (then
    /// `response.status` is 2xx and `request.method` is "CONNECT"). Later bytes are ignored;
    /// see `HTTPConnectionParser.bytesAfterUpgrade`.
    case upgrade(HTTPMessageContext)
    /// A parse error or limit breach, e.g. "http.header_too_large"; also counted in `counters`.
    case anomaly(Direction, String)
}

/// Hard bounds on what one connection's parser keeps or produces.
public struct HTTPLimits: Sendable, Equatable {
    /// Bytes of one head (start line + fields + blank line).
    public var maxHeaderBytes = 64 * 1024
    /// Header lines in one head (obs-fold continuation lines count as lines).
    public var maxHeaders = 256
    /// Bytes of one buffered (JSON) body after decoding.
    public var maxBodyBytes = 16 * 1024 * 1024
    /// Bytes one compressed body may inflate to (per message: a compressed SSE stream stops
    /// being decoded past it, with "http.decompressed_too_large").
    public var maxDecompressedBytes = 64 * 1024 * 1024
    /// Inflated bytes per compressed byte above which a body is a bomb (checked past 64 KiB out).
    public var maxDecompressionRatio = 1000
    /// Bytes of one SSE event (its data so far plus the line being read).
    public var maxSSEEventBytes = 16 * 1024 * 1024
    /// Bytes of one chunk-size line (size and extensions).
    public var maxChunkLineBytes = 1024
    /// Bytes of all trailer fields of one chunked body.
    public var maxTrailerBytes = 64 * 1024
    /// Requests waiting for their response; beyond it the oldest is forgotten.
    public var maxPendingRequests = 1024
    /// Request-side bytes held between a request carrying `Upgrade` and its response.
    public var maxUpgradeHoldBytes = 64 * 1024
    /// Bytes a connection may carry, both directions together, before a first start line is
    /// found; past it `isHTTP` becomes false. Matters only when a gap came first (a connection
    /// joined mid-message): otherwise the first line decides at once.
    public var maxUndecidedBytes = 256 * 1024

    public init() {}
}
