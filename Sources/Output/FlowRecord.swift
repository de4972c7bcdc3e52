import SonarCore

/// The contract's `event_type: "flow"`, written when a connection (or UDP pair) ends: so a SIEM
/// sees the whole egress picture, not only its alerts. Field names follow Suricata's flow event.
public struct FlowRecord: Sendable {
    // `alerted` first: the memberwise initializer then differs from the public one, which
    // delegates to it (see `MCPPayload`).
    public var alerted: Bool
    public var flowId: UInt64
    public var client: Endpoint
    public var server: Endpoint
    public var transport: TransportProtocol
    public var appProto: String?
    public var start: Timestamp
    public var end: Timestamp
    public var packets: (toServer: UInt64, toClient: UInt64)
    public var bytes: (toServer: UInt64, toClient: UInt64)
    /// Why it ended: closed, timeout, evicted, shutdown.
    public var reason: String
    public var sni: String?
    public var httpHost: String?
    public var dnsName: String?
}

extension FlowRecord {
    public init(flowId: UInt64, client: Endpoint, server: Endpoint, transport: TransportProtocol, appProto: String?,
                start: Timestamp, end: Timestamp, packets: (UInt64, UInt64), bytes: (UInt64, UInt64), reason: String,
                sni: String?, httpHost: String?, dnsName: String?, alerted: Bool) {
        self.init(alerted: alerted, flowId: flowId, client: client, server: server, transport: transport,
                  appProto: appProto, start: start, end: end, packets: packets, bytes: bytes, reason: reason,
                  sni: sni, httpHost: httpHost, dnsName: dnsName)
    }
}

extension EventEncoder {
    public static func encodeFlow(_ f: FlowRecord) -> [UInt8] {
        var w = JSONWriter()
        writeFlow(f, into: &w)
        return w.bytes
    }

    /// The `flow` event's line, written into `w`.
    public static func writeFlow(_ f: FlowRecord, into w: inout JSONWriter) {
        header(&w, time: f.end, type: "flow", flowId: f.flowId, source: f.client, destination: f.server,
               proto: f.transport, appProto: f.appProto)
        w.key("flow")
        w.beginObject()
        w.field("pkts_toserver", f.packets.toServer)
        w.field("pkts_toclient", f.packets.toClient)
        w.field("bytes_toserver", f.bytes.toServer)
        w.field("bytes_toclient", f.bytes.toClient)
        w.field("start", time: f.start)
        w.field("end", time: f.end)
        w.field("age", (f.end.microseconds - f.start.microseconds) / 1_000_000)
        w.field("reason", f.reason)
        w.field("alerted", f.alerted)
        w.endObject()
        if f.sni != nil || f.httpHost != nil || f.dnsName != nil {
            w.key("names")
            w.beginObject()
            w.field("tls_sni", f.sni)
            w.field("http_host", f.httpHost)
            w.field("dns", f.dnsName)
            w.endObject()
        }
        w.endObject()
    }
}
