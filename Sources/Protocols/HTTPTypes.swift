// The value types the HTTP/1.x and SSE parsers hand to the layers above.
import SonarCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Header fields of an HTTP message exactly as sent: original spelling, original order,
/// duplicates kept. Lookups are case-insensitive (RFC 9110 5.1).
///
/// Held as bytes with the place of each name and value in them, not as a String per name and
/// value: a head's fields were decoded, allocated and freed with every message, and most are
/// never asked for. A value becomes a String only when asked (`subscript`, `values`).
public struct HTTPHeaders: Sendable, Equatable {
    /// One field as sent (`entries`, and building headers by hand).
    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    /// Where one field's name and value are in `bytes`.
    @usableFromInline
    struct Span: Sendable {
        var nameStart: UInt32, nameEnd: UInt32, valueStart: UInt32, valueEnd: UInt32
        var nameCount: Int { Int(nameEnd &- nameStart) }
    }

    /// The bytes the spans point into (a parsed head's buffer, start line included).
    private var bytes: [UInt8]
    private var spans: [Span]

    public init(_ entries: [(name: String, value: String)] = []) {
        self.init(fields: entries.map { Field(name: $0.name, value: $0.value) })
    }

    public init(fields: [Field]) {
        var bytes: [UInt8] = []
        var spans: [Span] = []
        spans.reserveCapacity(fields.count)
        for f in fields {
            let n0 = bytes.count
            bytes.append(contentsOf: f.name.utf8)
            let v0 = bytes.count
            bytes.append(contentsOf: f.value.utf8)
            spans.append(Span(nameStart: UInt32(n0), nameEnd: UInt32(v0), valueStart: UInt32(v0), valueEnd: UInt32(bytes.count)))
        }
        self.bytes = bytes
        self.spans = spans
    }

    /// Fields found by the parser in `bytes`.
    init(bytes: [UInt8], spans: [Span]) {
        self.bytes = bytes
        self.spans = spans
    }

    /// How many fields there are.
    public var fieldCount: Int { spans.count }

    /// Bytes reserved for the fields (tests: a head kept for a waiting request holds no more
    /// than about its own size).
    var storageCapacity: Int { bytes.capacity }

    /// Every field as Strings, in the order sent.
    public var entries: [Field] {
        var out: [Field] = []
        out.reserveCapacity(spans.count)
        forEachField { name, value in
            out.append(Field(name: String(decoding: name, as: UTF8.self), value: HTTPHeaders.text(value)))
        }
        return out
    }

    /// Calls `body` with each field's name and value bytes, in the order sent.
    public func forEachField(_ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> Void) {
        bytes.withUnsafeBytes { b in
            for s in spans {
                body(UnsafeRawBufferPointer(rebasing: b[Int(s.nameStart)..<Int(s.nameEnd)]),
                     UnsafeRawBufferPointer(rebasing: b[Int(s.valueStart)..<Int(s.valueEnd)]))
            }
        }
    }

    /// The value of the first field called `name` (any case), or nil.
    public subscript(_ name: String) -> String? { withValue(name) { Self.text($0) } }

    /// Whether a field is called `name` (any case).
    public func contains(_ name: String) -> Bool { withValue(name) { _ in true } ?? false }

    /// How many fields are called `name` (any case).
    public func count(_ name: String) -> Int {
        var k = 0
        forEachValue(named: name) { _ in k += 1; return true }
        return k
    }

    /// Every value of the fields called `name` (any case), in the order sent.
    public func values(_ name: String) -> [String] {
        var out: [String] = []
        forEachValue(named: name) { out.append(Self.text($0)); return true }
        return out
    }

    /// The value of the first field called `name` (any case) as `text` makes it from the bytes,
    /// or nil: for a caller that makes its own String (one it made before, say). Not generic:
    /// `withValue` called from another module looked its result type up at run time each call.
    public func firstValue(_ name: String, as text: (UnsafeRawBufferPointer) -> String) -> String? {
        var result: String?
        forEachValue(named: name) { result = text($0); return false }
        return result
    }

    /// Calls `body` with the bytes of the first field called `name` (any case); nil when none is.
    public func withValue<R>(_ name: String, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        var result: R?
        forEachValue(named: name) { result = body($0); return false }
        return result
    }

    /// Calls `body` with the value of each field called `name` (any case), in the order sent,
    /// until it returns false. Names are compared by length first: most differ in it.
    @inline(__always)
    private func forEachValue(named name: String, _ body: (UnsafeRawBufferPointer) -> Bool) {
        bytes.withUnsafeBytes { b in
            name.withUTF8Bytes { n in
                for s in spans where s.nameCount == n.count && Self.sameFolded(b, s, n) {
                    if !body(UnsafeRawBufferPointer(rebasing: b[Int(s.valueStart)..<Int(s.valueEnd)])) { return }
                }
            }
        }
    }

    /// Same fields, same bytes, same order.
    public static func == (a: HTTPHeaders, b: HTTPHeaders) -> Bool {
        guard a.spans.count == b.spans.count else { return false }
        return a.bytes.withUnsafeBytes { x in
            b.bytes.withUnsafeBytes { y in
                for (s, t) in zip(a.spans, b.spans) {
                    guard x[Int(s.nameStart)..<Int(s.nameEnd)].elementsEqual(y[Int(t.nameStart)..<Int(t.nameEnd)]),
                          x[Int(s.valueStart)..<Int(s.valueEnd)].elementsEqual(y[Int(t.valueStart)..<Int(t.valueEnd)]) else {
                        return false
                    }
                }
                return true
            }
        }
    }

    /// Whether the name at `s` is `n` in ASCII case; the lengths are equal already.
    @inline(__always)
    private static func sameFolded(_ b: UnsafeRawBufferPointer, _ s: Span, _ n: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = Int(s.nameStart)
        for i in 0..<n.count {
            let x = b[start + i], y = n[i]
            if x != y && lowerASCII(x) != lowerASCII(y) { return false }
        }
        return true
    }

    /// A name or value as a String. Up to 15 bytes a String holds its bytes itself; longer
    /// ones are allocated, unless they are one of the common texts below, given as literals (no
    /// allocation), as Go's `textproto` does for header names. Invalid UTF-8 is repaired.
    public static func text(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.count > 15, bytes.count < commonTexts.count {
            for known in commonTexts[bytes.count] where same(known, bytes) { return known }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Values longer than 15 bytes that MCP clients and servers send on every message, indexed
    /// by their length.
    private static let commonTexts: [[String]] = {
        let texts = [
            "application/json", "application/json, text/event-stream", "text/event-stream",
            "application/octet-stream", "no-cache, no-transform",
            "application/json; charset=utf-8", "text/event-stream; charset=utf-8",
        ]
        var byLength = [[String]](repeating: [], count: (texts.map(\.utf8.count).max() ?? 0) + 1)
        for t in texts { byLength[t.utf8.count].append(t) }
        return byLength
    }()

    /// Whether `text`'s UTF-8 is exactly `bytes` (a String decoded from invalid UTF-8 holds
    /// replacement characters, so it never equals raw bytes it was repaired from).
    @inline(__always)
    private static func same(_ text: String, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard text.utf8.count == bytes.count else { return false }
        return text.withUTF8Bytes { t in
            guard let a = t.baseAddress, let b = bytes.baseAddress else { return bytes.isEmpty }
            return memcmp(a, b, bytes.count) == 0
        }
    }
}

/// ASCII-only case folding: header names are tokens, so Unicode case rules never apply.
@inline(__always) func lowerASCII(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b | 0x20 : b }

/// True if `haystack` contains `needle` (given in lowercase ASCII), ignoring ASCII case.
/// Asked of every body's Content-Type: the bytes are read where they are (a native String's
/// UTF-8 is contiguous), not copied into two arrays first. For protocol tokens (media types,
/// `Upgrade`, WebSocket subprotocols), which are ASCII: no Unicode case mapping applies.
public func asciiContainsLowercased(_ haystack: String, _ needle: String) -> Bool {
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
    // `headers` first in this type and the two below: the memberwise initializers then differ
    // from the public ones, which delegate to them. An initializer assigning each field built the
    // value in a temporary and copied it (a retain and release of each reference) every head.
    public var headers: HTTPHeaders
    public var method: String
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var versionMinor: Int
}

extension HTTPRequestHead {
    public init(method: String, target: String, versionMinor: Int, headers: HTTPHeaders) {
        self.init(headers: headers, method: method, target: target, versionMinor: versionMinor)
    }
}

/// The status line and header fields of a response.
public struct HTTPResponseHead: Sendable, Equatable {
    public var headers: HTTPHeaders
    public var status: Int
    public var reason: String
    public var versionMinor: Int
}

extension HTTPResponseHead {
    public init(status: Int, reason: String, versionMinor: Int, headers: HTTPHeaders) {
        self.init(headers: headers, status: status, reason: reason, versionMinor: versionMinor)
    }
}

/// One dispatched Server-Sent Event.
public struct SSEEvent: Sendable, Equatable {
    // `data` first: see `HTTPRequestHead` (made per event, the field-by-field initializer copied
    // each one).
    /// The `data:` lines joined with LF (no trailing LF). Empty for an event without data.
    public var data: [UInt8]
    /// The `event:` field, or "message" when the event had none (or an empty one).
    public var event: String
    /// The `id:` field of this event (not the inherited last-event-ID); nil if it had none.
    public var id: String?
    /// The `retry:` field of this event when it was all ASCII digits.
    public var retry: Int?
}

extension SSEEvent {
    public init(event: String = "message", data: [UInt8], id: String? = nil, retry: Int? = nil) {
        self.init(data: data, event: event, id: id, retry: retry)
    }
}

/// What a body or event belongs to: the request, and (for to-client data) the response.
public struct HTTPMessageContext: Sendable, Equatable {
    // `request` first: see `HTTPRequestHead`.
    public var request: HTTPRequestHead?
    /// 0, 1, 2… in request order on this connection. A response whose request was never seen
    /// (connection picked up mid-stream, request lost in a gap) gets the next unused index.
    public var exchangeIndex: Int
    public var response: HTTPResponseHead?
}

extension HTTPMessageContext {
    public init(exchangeIndex: Int, request: HTTPRequestHead?, response: HTTPResponseHead?) {
        self.init(request: request, exchangeIndex: exchangeIndex, response: response)
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
