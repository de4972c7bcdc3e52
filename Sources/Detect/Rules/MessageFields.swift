// The fields of one MCP message, resolved lazily from its event, its JSON tape and its request headers.
import SonarCore
import SonarMCP
import SonarProtocols

/// The fields a `category: mcp` rule sees for one JSON-RPC message.
///
/// - Event fields by their contract names (`src_ip`, `mcp.method`, `http.status`, ...).
/// - The message's own JSON under `mcp.params.`, `mcp.result.` and `mcp.error.`: a path of
///   member names separated by dots, where `name[]` stands for every element of the array
///   `name`, `*` for every member value of an object (or element of an array), and a final
///   `name{}` for the member names of the object `name` (`mcp.params.requestedSchema.properties{}`).
///   Paths are walked on the tape when a rule asks, never flattened up front. Member names
///   containing `.` cannot be addressed.
/// - `http.headers.<name>`: every value of that request header (names compared without case).
///
/// Nothing is computed until a rule asks for a field; a rule that fails on `mcp.method` never
/// touches the JSON.
///
/// One reference wide: the message is held in a shared box, so passing the fields around as
/// `any FieldSource` never copies the event.
public struct MessageFields: FieldSource, Sendable {
    private final class Storage: Sendable {
        let event: MCPEvent
        let view: MCPMessageView?
        let requestHeaders: HTTPHeaders?
        init(event: MCPEvent, view: MCPMessageView?, requestHeaders: HTTPHeaders?) {
            self.event = event; self.view = view; self.requestHeaders = requestHeaders
        }
    }
    private let storage: Storage

    public var event: MCPEvent { storage.event }
    public var view: MCPMessageView? { storage.view }
    public var requestHeaders: HTTPHeaders? { storage.requestHeaders }

    public init(event: MCPEvent, view: MCPMessageView?, requestHeaders: HTTPHeaders?) {
        storage = Storage(event: event, view: view, requestHeaders: requestHeaders)
    }

    public func values(_ field: String) -> [FieldValue] {
        var out: [FieldValue] = []
        _ = forEachValue(FieldKey(field)) { out.append($0); return false }
        return out
    }

    public func forEachValue(_ key: FieldKey, _ body: (FieldValue) -> Bool) -> Bool {
        switch key.path {
        case .event(let f):
            guard let v = eventValue(f) else { return false }
            return body(v)
        case .header(let name):
            guard let headers = storage.requestHeaders else { return false }
            for value in headers.values(String(name)) where body(.string(value)) { return true }
            return false
        case .json(let root, let segments):
            guard let view = storage.view else { return false }
            let start: JSONRef?
            switch root {
            case .params: start = view.message.params
            case .result: start = view.message.result
            case .error: start = view.message.error
            }
            guard let start else { return false }
            return JSONFieldPath.visit(view.document, start, segments[...], body)
        case .unknown:
            return false
        }
    }

    /// The contract's text of an address; IPv4 formatted here without interpolation (the
    /// `cidr` filters on `src_ip` ask for it on every message).
    static func text(_ a: IPAddress) -> String {
        guard case .v4(let v) = a else { return a.description }
        var out: [UInt8] = []
        out.reserveCapacity(15)
        for shift in stride(from: 24, through: 0, by: -8) {
            let o = UInt8(truncatingIfNeeded: v >> UInt32(shift))
            if o >= 100 { out.append(0x30 + o / 100) }
            if o >= 10 { out.append(0x30 + (o / 10) % 10) }
            out.append(0x30 + o % 10)
            if shift > 0 { out.append(0x2E) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private func eventValue(_ f: MessageFieldVocabulary.EventField) -> FieldValue? {
        let e = storage.event
        func s(_ v: String?) -> FieldValue? { v.map { .string($0) } }
        func n<T: BinaryInteger>(_ v: T?) -> FieldValue? { v.map { .number(String($0)) } }
        switch f {
        case .srcIP: return .string(Self.text(e.source.address))
        case .srcPort: return .number(String(e.source.port))
        case .destIP: return .string(Self.text(e.destination.address))
        case .destPort: return .number(String(e.destination.port))
        case .proto: return .string("TCP")
        case .appProto: return .string(e.appProto)
        case .transport: return .string(e.transport.rawValue)
        case .kind: return .string(e.kind.rawValue)
        case .id:
            switch e.id {
            case .number(let t)?: return .number(t)
            case .string(let t)?: return .string(t)
            case nil: return nil
            }
        case .method: return s(e.method)
        case .tool: return s(e.tool)
        case .sessionId: return s(e.sessionId)
        case .protocolVersion: return s(e.protocolVersion)
        case .size: return n(e.size)
        case .latencyMs:
            guard let us = e.latencyMicroseconds else { return nil }
            let v = max(0, us)
            let frac = String(v % 1000)
            return .number(String(v / 1000) + "." + String(repeating: "0", count: 3 - frac.count) + frac)
        case .errorCode: return n(e.errorCode)
        case .clientName: return s(e.clientName)
        case .clientVersion: return s(e.clientVersion)
        case .serverName: return s(e.serverName)
        case .serverVersion: return s(e.serverVersion)
        case .httpMethod: return s(e.http?.method)
        case .httpURL: return s(e.http?.url)
        case .httpHostname: return s(e.http?.host)
        case .httpStatus: return n(e.http?.status)
        }
    }
}

/// The names `MessageFields` answers to; the loader refuses rules that name anything else.
enum MessageFieldVocabulary {
    enum EventField: Sendable {
        case srcIP, srcPort, destIP, destPort, proto, appProto
        case transport, kind, id, method, tool, sessionId, protocolVersion, size, latencyMs, errorCode
        case clientName, clientVersion, serverName, serverVersion
        case httpMethod, httpURL, httpHostname, httpStatus
    }

    static let eventFields: [String: EventField] = [
        "src_ip": .srcIP, "src_port": .srcPort, "dest_ip": .destIP, "dest_port": .destPort,
        "proto": .proto, "app_proto": .appProto,
        "mcp.transport": .transport, "mcp.kind": .kind, "mcp.id": .id, "mcp.method": .method,
        "mcp.tool": .tool, "mcp.session_id": .sessionId, "mcp.protocol_version": .protocolVersion,
        "mcp.size": .size, "mcp.latency_ms": .latencyMs, "mcp.error_code": .errorCode,
        "mcp.client_name": .clientName, "mcp.client_version": .clientVersion,
        "mcp.server_name": .serverName, "mcp.server_version": .serverVersion,
        "http.http_method": .httpMethod, "http.url": .httpURL, "http.hostname": .httpHostname,
        "http.status": .httpStatus,
    ]

    static let jsonPrefixes = ["mcp.params", "mcp.result", "mcp.error"]

    /// Why `field` is not a field of `category: mcp` rules, or nil when it is one.
    static func problem(with field: String) -> String? {
        if eventFields[field] != nil { return nil }
        if field.hasPrefix("http.headers.") {
            let name = field.dropFirst("http.headers.".count)
            if name.isEmpty { return "field '\(field)' names no header" }
            if name.contains(where: { $0 == "." || $0 == " " }) { return "field '\(field)': a header name has no '.' or space" }
            return nil
        }
        for prefix in jsonPrefixes where field.hasPrefix(prefix) {
            let rest = field.dropFirst(prefix.count)
            if rest.isEmpty { return nil }
            guard rest.first == "." else { break }
            return JSONFieldPath.problem(with: rest.dropFirst()).map { "field '\(field)': \($0)" }
        }
        return "unknown field '\(field)' (known: the contract's event fields, mcp.params.*, mcp.result.*, mcp.error.*, http.headers.*)"
    }
}

/// Dot-separated paths into a JSON value: `a.b`, `a[].b` (each element), `*` (each member
/// value or element), final `a{}` (member names of `a`).
enum JSONFieldPath {
    static func problem(with path: Substring) -> String? {
        let segments = path.split(separator: ".", omittingEmptySubsequences: false)
        for (i, seg) in segments.enumerated() {
            if seg.isEmpty { return "empty path segment" }
            if seg == "*" { continue }
            var name = seg
            if name.hasSuffix("[]") { name = name.dropLast(2) }
            else if name.hasSuffix("{}") {
                if i != segments.count - 1 { return "'{}' (member names) only ends a path" }
                name = name.dropLast(2)
            }
            if name.isEmpty { return "'[]' or '{}' needs a member name before it" }
            if name.contains(where: { "[]{}*".contains($0) }) { return "invalid path segment '\(seg)'" }
        }
        return nil
    }

    /// Walks `segments` from `r`, calling `body` on each value reached, depth first in
    /// document order, until it returns true. Recursion depth is the number of segments.
    static func visit(_ d: JSONDocument, _ r: JSONRef, _ segments: ArraySlice<FieldPath.PathSegment>,
                      _ body: (FieldValue) -> Bool) -> Bool {
        guard let seg = segments.first else { return body(value(d, r)) }
        let rest = segments.dropFirst()
        var hit = false
        switch seg {
        case .member(let name):
            guard let v = d.member(r, name) else { return false }
            return visit(d, v, rest, body)
        case .elements(let name):
            guard let v = d.member(r, name) else { return false }
            d.forEachElement(v) { e in hit = visit(d, e, rest, body); return !hit }
        case .each:
            switch d.kind(r) {
            case .object: d.forEachMember(r) { _, v in hit = visit(d, v, rest, body); return !hit }
            case .array: d.forEachElement(r) { e in hit = visit(d, e, rest, body); return !hit }
            default: break
            }
        case .keys(let name):
            guard let v = d.member(r, name) else { return false }
            d.forEachMember(v) { k, _ in hit = body(.string(d.string(k) ?? "")); return !hit }
        }
        return hit
    }

    static func value(_ d: JSONDocument, _ r: JSONRef) -> FieldValue {
        switch d.kind(r) {
        case .string: return .string(d.string(r) ?? "")
        case .number: return .number(d.numberText(r) ?? "")
        case .bool: return .bool(d.bool(r) ?? false)
        case .null: return .null
        case .object, .array: return .container
        }
    }
}
