import SonarCore
import SonarDetect
import SonarMCP

/// Turns events into the contract's JSON lines (../shared/contract.md). Field order is fixed so the
/// same input always gives the same bytes.
public enum EventEncoder {
    /// The fields every event starts with: time, flow, type and the 5-tuple.
    static func header(_ w: inout JSONWriter, time: Timestamp, type: StaticString, flowId: UInt64?,
                       source: Endpoint?, destination: Endpoint?, proto: TransportProtocol?, appProto: String?) {
        w.beginObject()
        w.field("timestamp", time: time)
        w.field("flow_id", flowId)
        w.field("event_type", literal: type)
        if let source, let destination {
            w.field("src_ip", address: source.address)
            w.field("src_port", Int(source.port))
            w.field("dest_ip", address: destination.address)
            w.field("dest_port", Int(destination.port))
        }
        switch proto {
        case .tcp?: w.field("proto", literal: "TCP")
        case .udp?: w.field("proto", literal: "UDP")
        case nil: break
        }
        w.field("app_proto", appProto)
    }

    public static func encode(_ e: MCPEvent) -> [UInt8] {
        var w = JSONWriter()
        write(e, into: &w)
        return w.bytes
    }

    /// The `mcp` event's line, written into `w` (a writer its user keeps and resets).
    public static func write(_ e: MCPEvent, into w: inout JSONWriter) {
        header(&w, time: e.timestamp, type: "mcp", flowId: e.flowId, source: e.source,
               destination: e.destination, proto: .tcp, appProto: e.appProto)
        w.key("mcp")
        writeMCP(&w, e)
        if let h = e.http {
            w.key("http")
            w.beginObject()
            w.field("hostname", h.host)
            w.field("url", h.url)
            w.field("http_method", h.method)
            w.field("status", h.status)
            w.endObject()
        }
        w.endObject()
    }

    /// The `mcp` object, shared by `mcp` events and the alerts that refer to a message.
    public static func writeMCP(_ w: inout JSONWriter, _ e: MCPEvent) {
        w.beginObject()
        // Each name as its raw value (`encodedEnumNamesAreTheirRawValues` checks them).
        switch e.transport {
        case .http: w.field("transport", literal: "http")
        case .sse: w.field("transport", literal: "sse")
        case .websocket: w.field("transport", literal: "websocket")
        case .tcp: w.field("transport", literal: "tcp")
        }
        switch e.kind {
        case .request: w.field("kind", literal: "request")
        case .notification: w.field("kind", literal: "notification")
        case .response: w.field("kind", literal: "response")
        case .error: w.field("kind", literal: "error")
        }
        switch e.id {
        case .number(let text)?: w.key("id"); w.raw(text)
        case .string(let s)?: w.field("id", s)
        case nil: break
        }
        w.field("method", e.method)
        w.field("tool", e.tool)
        w.field("session_id", e.sessionId)
        w.field("protocol_version", e.protocolVersion)
        w.field("params_sha256", e.paramsSHA256)
        w.field("size", e.size)
        if let us = e.latencyMicroseconds { w.key("latency_ms"); w.milliseconds(microseconds: us) }
        w.field("error_code", e.errorCode)
        w.field("result_type", e.resultType)
        w.field("client_name", e.clientName)
        w.field("client_version", e.clientVersion)
        w.field("server_name", e.serverName)
        w.field("server_version", e.serverVersion)
        if !e.headerMismatch.isEmpty {
            w.key("header_mismatch")
            w.beginArray()
            for h in e.headerMismatch { w.string(h) }
            w.endArray()
        }
        if let m = e.message { w.key("message"); w.raw(m) }
        w.endObject()
    }
}

extension EventEncoder {
    /// The contract's `event_type: "alert"`: the 5-tuple of the message, `alert`, the message's
    /// `mcp` fields, `evidence` (never a secret in clear) and, for egress, `egress`.
    public static func encode(_ a: Alert) -> [UInt8] {
        var w = JSONWriter()
        write(a, into: &w)
        return w.bytes
    }

    /// The alert's line, written into `w`.
    public static func write(_ a: Alert, into w: inout JSONWriter) {
        header(&w, time: a.timestamp, type: "alert", flowId: a.flowId, source: a.source,
               destination: a.destination, proto: a.transport, appProto: a.appProto)
        let f = a.finding
        w.key("alert")
        w.beginObject()
        w.field("action", literal: "allowed")
        w.field("signature_id", f.signatureId)
        w.field("rule", f.rule)
        w.field("signature", f.signature)
        w.field("category", f.category.rawValue)
        w.field("severity", f.severity)
        w.endObject()
        if let m = a.mcp {
            w.key("mcp")
            writeMCP(&w, m)
        }
        if let e = f.evidence {
            w.key("evidence")
            w.beginObject()
            w.field("redacted", e.redacted)
            w.field("sha256", e.sha256)
            w.field("path", e.path)
            w.endObject()
        }
        if a.egressHost != nil || a.egressVia != nil {
            w.key("egress")
            w.beginObject()
            w.field("host", a.egressHost)
            w.field("via", a.egressVia)
            w.endObject()
        }
        w.endObject()
    }
}

/// Figures for the `stats` event.
public struct StatsSnapshot: Sendable {
    public var time: Timestamp
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var kernelDrops: UInt64? = nil
    public var interfaceDrops: UInt64? = nil
    public var flowsActive = 0
    public var flowsTotal: UInt64 = 0
    public var flowsEvicted: UInt64 = 0
    public var flowsTimedOut: UInt64 = 0
    public var reassemblyGaps = 0
    public var reassemblyGapBytes = 0
    public var reassemblyPendingBytes = 0
    /// Bytes the application-layer parsers hold across all connections (`app.max_buffered_bytes_total`).
    public var appBufferedBytes = 0
    public var memoryBytes = 0
    public var events: [String: Int] = [:]
    /// Parse errors and limit breaches by layer: "http.bad_chunk" → count.
    public var counters = Counters()
    /// The output queue and sinks; nil when events go straight to a file or standard output.
    public var output: OutputStats? = nil

    public init(time: Timestamp) { self.time = time }
}

extension EventEncoder {
    public static func encode(_ s: StatsSnapshot) -> [UInt8] {
        var w = JSONWriter()
        write(s, into: &w)
        return w.bytes
    }

    /// The stats event's line, written into `w`.
    public static func write(_ s: StatsSnapshot, into w: inout JSONWriter) {
        header(&w, time: s.time, type: "stats", flowId: nil, source: nil, destination: nil, proto: nil, appProto: nil)
        w.key("stats")
        w.beginObject()
        w.field("packets", s.packets)
        w.field("bytes", s.bytes)
        w.field("kernel_drops", s.kernelDrops)
        w.field("interface_drops", s.interfaceDrops)
        w.key("flows")
        w.beginObject()
        w.field("active", s.flowsActive)
        w.field("total", s.flowsTotal)
        w.field("evicted", s.flowsEvicted)
        w.field("timed_out", s.flowsTimedOut)
        w.endObject()
        w.key("reassembly")
        w.beginObject()
        w.field("gaps", s.reassemblyGaps)
        w.field("gap_bytes", s.reassemblyGapBytes)
        w.field("pending_bytes", s.reassemblyPendingBytes)
        w.endObject()
        w.field("app_buffered_bytes", s.appBufferedBytes)
        w.field("memory_bytes", s.memoryBytes)
        if let o = s.output {
            w.key("output")
            w.beginObject()
            w.field("queued", o.queued)
            w.field("written", o.written)
            w.field("dropped", o.dropped)
            w.field("sink_dropped", o.sinkDropped)
            w.field("write_errors", o.writeErrors)
            w.field("reconnects", o.reconnects)
            w.key("sinks")
            w.beginObject()
            for label in o.sinks.keys.sorted() {
                guard let c = o.sinks[label] else { continue }
                w.key(dynamic: label)
                w.beginObject()
                w.field("written", c.written)
                w.field("dropped", c.dropped)
                w.field("dropped_slow", c.droppedSlow)
                w.field("dropped_oversized", c.droppedOversized)
                w.field("write_errors", c.writeErrors)
                w.field("connect_failures", c.connectFailures)
                w.field("reconnects", c.reconnects)
                w.endObject()
            }
            w.endObject()
            w.endObject()
        }
        w.key("events")
        w.beginObject()
        for k in s.events.keys.sorted() { w.field(dynamic: k, s.events[k]) }
        w.endObject()
        // Parse errors, limit breaches and notable events, grouped by layer: the part of the
        // counter name before the first dot ("http.bad_chunk" → counters.http.bad_chunk).
        w.key("counters")
        w.beginObject()
        var byLayer: [String: [(String, Int)]] = [:]
        for (name, v) in s.counters.values {
            let parts = name.split(separator: ".", maxSplits: 1)
            let layer = parts.count == 2 ? String(parts[0]) : "other"
            let rest = parts.count == 2 ? String(parts[1]) : name
            byLayer[layer, default: []].append((rest, v))
        }
        for layer in byLayer.keys.sorted() {
            w.key(dynamic: layer)
            w.beginObject()
            for (k, v) in (byLayer[layer] ?? []).sorted(by: { $0.0 < $1.0 }) { w.field(dynamic: k, v) }
            w.endObject()
        }
        w.endObject()
        w.endObject()
        w.endObject()
    }
}
