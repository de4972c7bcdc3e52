import SonarCapture
import SonarCore
import SonarDecode
import SonarDetect
import SonarFlow
import SonarMCP
import SonarOutput
import SonarProtocols

/// Everything the pipeline can be told, layer by layer.
public struct EngineConfig: Sendable {
    public var decode = DecodeLimits()
    public var flow = FlowConfig()
    public var http = HTTPLimits()
    public var webSocket = WebSocketLimits()
    public var lines = LineJSONLimits()
    public var mcp = MCPConfig()
    /// Bytes held by the application-layer parsers of all flows together (HTTP heads and bodies,
    /// SSE events, WebSocket messages, JSON lines, TLS and DNS messages). Each parser bounds its
    /// own buffers; this bounds their sum, so ten thousand slow connections cannot hold ten
    /// thousand maximal heads or bodies. Past it the connection that grew is no longer read.
    public var maxAppBufferedBytesTotal = 256 << 20
    /// The writer queue between capture and the sinks (`output.*`).
    public var output = OutputLimits()
    /// `--pcap-alerts` (`pcap_alerts.*`).
    public var alertCapture = AlertCaptureLimits()
    /// Detectors and rules; nil runs no detection (events only).
    public var detection: DetectionConfig?
    public init() {}
}

/// Per-flow application state: the HTTP parser of the connection, and the legacy HTTP+SSE
/// session ids its GET streams announced (by exchange).
final class FlowApp {
    let http: HTTPConnectionParser
    var legacySessions: [Int: String] = [:]
    /// Newline-delimited JSON-RPC, tried beside HTTP until one of them recognises the stream.
    var lines: LineJSONParser?
    /// After a 101 to a WebSocket upgrade: the frames, and the exchange that upgraded.
    var webSocket: WebSocketConnectionParser?
    var upgrade: HTTPMessageContext?
    /// The first client bytes tried as a TLS ClientHello until it is read or ruled out.
    var tls: TLSClientHelloParser? = TLSClientHelloParser()
    /// DNS over TCP (port 53): length-prefixed messages instead of HTTP.
    var dns: DNSStreamParser?
    /// What this flow's parsers held when last measured (part of the engine's total).
    var buffered = 0
    /// Bytes the parsers of this flow hold now.
    var bufferedBytes: Int {
        http.heldCapacity + (lines?.bufferedBytes ?? 0) + (webSocket?.bufferedBytes ?? 0)
            + (tls?.bufferedBytes ?? 0) + (dns?.bufferedBytes ?? 0)
    }

    init(limits: HTTPLimits, lines lineLimits: LineJSONLimits) {
        http = HTTPConnectionParser(limits: limits)
        lines = LineJSONParser(limits: lineLimits)
    }
}

/// The one-way pipeline for one worker: decode → flows → reassembly → HTTP/SSE → JSON-RPC/MCP → output.
/// Time is always packet time.
public final class Engine {
    public private(set) var config: EngineConfig
    private var decoder: PacketDecoder
    private let flows: FlowTable
    private let tracker: MCPTracker
    private let detector: DetectionEngine?
    /// Tool inventory changes the tracker saw in the message being processed.
    private var toolObservations: [ToolObservation] = []
    private let sink: EventSink
    private var counters = Counters()
    private var eventCounts: [String: Int] = [:]
    /// What the sensor learnt of each open flow for its `flow` event and the egress check.
    private var notes: [UInt64: FlowNotes] = [:]
    /// Server endpoints seen carrying MCP (bounded): a limit breach on a new connection to one
    /// of them is on an MCP connection even before its first message is read.
    private var mcpServers: Set<Endpoint> = []
    private let maxMCPServers = 10_000
    /// Pressure on the sensor (flows evicted, connections shed): one alert per interval each.
    private var evictionGate = PressureGate()
    private var sheddingGate = PressureGate()
    /// Bytes held by the application-layer parsers of all flows (see `maxAppBufferedBytesTotal`).
    public private(set) var appBufferedBytes = 0
    /// Flows in the table now.
    public var flowsActive: Int { flows.count }
    public var flowsEvictedTotal: UInt64 { flows.flowsEvicted }
    /// Out-of-order bytes held by reassembly across all flows.
    public var reassemblyPendingBytes: Int { flows.reassembly.pendingBytesTotal }
    /// Delivered bytes kept by reassembly to compare retransmissions with.
    public var reassemblyRecentBytes: Int { flows.reassembly.recentBytesTotal }
    public var flowEvents = true
    /// The output path's own figures (queue and sink drops), for `stats`; nil: none to report.
    public var outputStats: (() -> OutputStats)?
    /// `--pcap-alerts`: keeps each flow's packets until it is judged, and writes those of flows
    /// that raised an alert to pcap files.
    public var alertCapture: AlertCapture?
    /// Events written so far (every type).
    public private(set) var eventsWritten = 0
    public private(set) var packets: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    /// The latest packet time seen: the clock for timeouts and for events raised without a packet.
    public private(set) var now = Timestamp.zero

    public init(config: EngineConfig, sink: EventSink) {
        self.config = config
        self.decoder = PacketDecoder(limits: config.decode)
        self.flows = FlowTable(config: config.flow)
        self.tracker = MCPTracker(config: config.mcp)
        self.detector = config.detection.map { DetectionEngine(config: $0) }
        self.sink = sink
        if let detector {
            tracker.observeTools = { [unowned self] in self.toolObservations.append($0) }
            detector.policy.toolListed = { [unowned self] server, tool in self.tracker.isToolListed(server: server, tool: tool) }
        }
    }

    /// One packet from any source.
    public func process(_ packet: CapturedPacket, linkType: Int32) {
        packets += 1
        bytes += UInt64(packet.wireLength)
        if packet.timestamp > now { now = packet.timestamp }
        flows.expire(now: now)
        finishEndedFlows()
        guard let p = decoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: linkType,
                                     timestamp: packet.timestamp) else { return }
        var (flow, direction) = flows.flow(for: p)
        if flow.closed, p.transport == .tcp, p.tcp.flags.contains(.syn), !p.tcp.flags.contains(.ack) {
            // A new connection reusing the 5-tuple of one that closed: end the old flow, start anew.
            flows.end(flow)
            finishEndedFlows()
            (flow, direction) = flows.flow(for: p)
        }
        flows.count(packet: packet.wireLength, flow: flow, direction: direction)
        alertCapture?.packet(packet, linkType: linkType, flowId: flow.id)
        finishEndedFlows() // a flow evicted to make room
        if flow.packets[0] + flow.packets[1] == 1 {
            let n = FlowNotes()
            notes[flow.id] = n
            flow.notes = n
        }
        if p.transport == .udp {
            udp(p, flow: flow, direction: direction)
            return
        }
        if flow.bypassed {
            // Nothing is read, but the connection's end still counts (closed, not timed out).
            if p.tcp.flags.contains(.rst) || p.tcp.flags.contains(.fin) { flows.markClosed(flow, time: p.timestamp) }
            return
        }
        if p.payloadTruncated { counters.add("capture.payload_truncated") }
        let ttlConsistent = checkTTL(p.ttl, flow: flow, direction: direction, time: p.timestamp)
        if flow.closed {
            // The last ACKs of a teardown are normal; data after the close is not.
            if !p.payload.isEmpty { counters.add("tcp.data_after_close") }
            return
        }
        let time = p.timestamp
        let flags = p.tcp.flags
        flow.streams[direction.index].segment(seq: p.tcp.seq, flags: flags, payload: p.payload,
                                              urgentPointer: p.tcp.urgentPointer,
                                              context: &flows.reassembly) { event in
            deliver(event, flow: flow, direction: direction, time: time)
        }
        reassemblyNotices(flow: flow, direction: direction, time: time)
        if flags.contains(.ack) {
            let other = direction.reversed
            flow.streams[other.index].acknowledged(p.tcp.ack, context: &flows.reassembly) { event in
                deliver(event, flow: flow, direction: other, time: time)
            }
            reassemblyNotices(flow: flow, direction: other, time: time)
        }
        if flags.contains(.rst) {
            switch flow.bypassed ? .accept : flow.streams[direction.index].resetVerdict(seq: p.tcp.seq) {
            case .accept where !ttlConsistent:
                // The right sequence number but not the TTL of the sender's other packets: a RST
                // that may die before the endpoint (a TTL game). Obeying it would blind the sensor
                // for the rest of the connection; ignoring a real one only delays the flow's end.
                counters.add("tcp.rst_ttl_mismatch")
            case .accept:
                counters.add("tcp.rst")
                closeStreams(of: flow, time: time)
            case .inexact:
                // In the window but not the exact next byte: a receiver answers with a challenge
                // ACK and goes on (RFC 5961), so must we (blind RST injection).
                counters.add("tcp.rst_inexact")
            case .outOfWindow:
                counters.add("tcp.rst_out_of_window")
            }
        }
        if flow.bypassed {
            // Bypassed during this packet: whatever reassembly held will never be read.
            for i in 0..<2 { flow.streams[i].dropHeld(context: &flows.reassembly) }
        }
        flows.noteTCP(flow, flags: flags, time: time)
        if flow.closed { releaseApp(of: flow) }
    }

    /// End of input: finish every flow, then write the `stats` event.
    public func finish() {
        finishFlows()
        alertCapture?.close()
        writeStats(captureStats: nil)
        sink.flush()
    }

    /// Ends every open flow, delivering what each still holds.
    public func finishFlows() {
        flows.drainAll()
        finishEndedFlows()
    }

    /// Live capture on a quiet link: the wall clock stands in for the packet clock, so idle flows
    /// time out and end (with their `flow` events) without waiting for the next packet.
    public func advanceClock(to time: Timestamp) {
        guard time > now else { return }
        now = time
        flows.expire(now: now)
        finishEndedFlows()
    }

    /// Swaps the rule set between two packets (SIGHUP). False when detection is off.
    public func reloadDetection(_ new: DetectionConfig) -> Bool {
        guard let detector else { return false }
        detector.reload(new)
        config.detection = new
        return true
    }

    /// Writes a `stats` event with the figures so far, stamped `time` (default: the packet clock).
    public func writeStats(captureStats: CaptureStats?, time: Timestamp? = nil) {
        var s = StatsSnapshot(time: time ?? now)
        s.packets = packets
        s.bytes = bytes
        s.kernelDrops = captureStats?.dropped
        s.interfaceDrops = captureStats?.interfaceDropped
        s.flowsActive = flows.count
        s.flowsTotal = flows.flowsCreated
        s.flowsEvicted = flows.flowsEvicted
        s.flowsTimedOut = flows.flowsTimedOut
        s.reassemblyGaps = flows.reassembly.gaps
        s.reassemblyGapBytes = flows.reassembly.gapBytes
        s.reassemblyPendingBytes = flows.reassembly.pendingBytesTotal
        s.appBufferedBytes = appBufferedBytes
        s.memoryBytes = ProcessMemory.residentBytes()
        s.events = eventCounts
        var all = counters
        all.merge(decoder.counters)
        all.merge(flows.reassembly.counters)
        all.merge(tracker.counters)
        if let capture = alertCapture { all.merge(capture.counters) }
        s.counters = all
        s.output = outputStats?()
        write(EventEncoder.encode(s), type: "stats")
    }

    public func flush() { sink.flush() }

    /// The tool inventory the capture showed, as an approved-inventory file (`mcpsonar pins`).
    public func pinsJSON() -> [UInt8] {
        var w = JSONWriter()
        w.beginObject()
        w.field("version", 1)
        w.key("servers")
        w.beginArray()
        for server in tracker.inventories.keys.sorted() {
            guard let inventory = tracker.inventories[server] else { continue }
            w.beginObject()
            w.field("server", server)
            w.field("name", tracker.serverNames[server])
            w.key("tools")
            w.beginObject()
            for name in inventory.tools.keys.sorted() { w.field(name, inventory.tools[name]?.sha256) }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }

    // MARK: - flows ending

    private func finishEndedFlows() {
        guard !flows.ended.isEmpty else { return }
        let ended = flows.ended
        flows.ended.removeAll()
        for (flow, reason) in ended {
            if reason == .evicted {
                counters.add("flow.evicted")
                flowTablePressure(evicted: flow)
            }
            closeStreams(of: flow, time: now)
            releaseApp(of: flow)
            checkEgress(flow, time: flow.firstSeen)
            if flowEvents { write(EventEncoder.encodeFlow(flowRecord(flow, reason: reason)), type: "flow") }
            notes[flow.id] = nil
            flow.notes = nil
            alertCapture?.flowEnded(flow.id)
        }
    }

    private func flowRecord(_ flow: Flow, reason: FlowEndReason) -> FlowRecord {
        let n = notes[flow.id]
        var dnsName: String? = nil
        if let d = detector { dnsName = d.egress.dnsNames(flow.server.address, client: flow.client.address, at: flow.firstSeen)?.first }
        return FlowRecord(flowId: flow.id, client: flow.client, server: flow.server, transport: flow.transport,
                          appProto: n?.appProto, start: flow.firstSeen, end: now,
                          packets: (flow.packets[0], flow.packets[1]), bytes: (flow.bytes[0], flow.bytes[1]),
                          reason: reason.rawValue, sni: n?.sni, httpHost: n?.httpHost, dnsName: dnsName,
                          alerted: n?.alerted ?? false)
    }

    /// One egress judgement per flow, once what names its destination is known (or at its end).
    private func checkEgress(_ flow: Flow, time: Timestamp) {
        guard let detector, let n = notes[flow.id], !n.egressChecked else { return }
        n.egressChecked = true
        let c = OutboundConnection(flowId: flow.id, client: flow.client, server: flow.server, time: time,
                                   appProto: n.appProto, sni: n.sni, httpHost: n.httpHost)
        if let alert = detector.egress.inspect(c) { raise(alert) }
    }

    /// UDP: DNS answers name addresses; a new UDP pair opened by an MCP server host is judged as egress.
    private func udp(_ p: DecodedPacket, flow: Flow, direction: Direction) {
        guard let detector else { return }
        if p.srcPort == 53 || p.dstPort == 53 {
            notes[flow.id]?.appProto = "dns"
            if let m = DNSParser.parse(p.payload) {
                // The answer's receiver is the host that asked.
                detector.egress.learn(m, client: p.dst, time: p.timestamp)
            } else {
                counters.add("dns.malformed")
            }
        }
        if flow.packets[0] + flow.packets[1] == 1 { checkEgress(flow, time: p.timestamp) }
    }

    /// Delivers what each direction still holds (with gaps), then ends both directions.
    private func closeStreams(of flow: Flow, time: Timestamp) {
        guard flow.transport == .tcp else { return }
        if flow.bypassed {
            for i in 0..<2 { flow.streams[i].dropHeld(context: &flows.reassembly) }
            flows.markClosed(flow, time: time)
            return
        }
        for direction in [Direction.toServer, .toClient] {
            flow.streams[direction.index].close(context: &flows.reassembly) { event in
                deliver(event, flow: flow, direction: direction, time: time)
            }
        }
        flows.markClosed(flow, time: time)
    }

    private func releaseApp(of flow: Flow) {
        if let app = flow.app as? FlowApp {
            appBufferedBytes -= app.buffered
            app.buffered = 0
            counters.merge(app.http.counters)
            if let lines = app.lines { counters.merge(lines.counters) }
            if let ws = app.webSocket { counters.merge(ws.counters) }
            if let tls = app.tls { counters.merge(tls.counters) }
            if let dns = app.dns { counters.merge(dns.counters) }
        }
        flow.app = nil
    }

    // MARK: - application layer

    private func deliver(_ event: StreamEvent, flow: Flow, direction: Direction, time: Timestamp) {
        if flow.bypassed { return }
        let app: FlowApp
        if let existing = flow.app as? FlowApp {
            app = existing
        } else {
            if case .end = event { return }
            app = FlowApp(limits: config.http, lines: config.lines)
            if flow.server.port == 53 {
                app.dns = DNSStreamParser()
                app.tls = nil
                app.lines = nil
                notes[flow.id]?.appProto = "dns"
            }
            flow.app = app
        }
        defer { account(app, flow: flow, direction: direction, time: time) }
        if let dns = app.dns {
            switch event {
            case .data(let bytes):
                dns.feed(bytes, direction: direction) { _, m in self.detector?.egress.learn(m, client: flow.client.address, time: time) }
            case .gap(let n): dns.gap(n, direction: direction)
            case .end: break
            }
            return
        }
        // Closures written at each call, not kept in local constants: a closure literal passed
        // straight to a non-escaping parameter lives on the stack, a stored one is boxed on the
        // heap (an allocation per delivered segment).
        if let ws = app.webSocket {
            switch event {
            case .data(let bytes): ws.feed(bytes, direction: direction) { self.handle($0, app: app, flow: flow, time: time) }
            case .gap(let length): ws.gap(length, direction: direction) { self.handle($0, app: app, flow: flow, time: time) }
            case .end: ws.end(direction: direction) { self.handle($0, app: app, flow: flow, time: time) }
            }
            return
        }
        if case .data(let bytes) = event, direction == .toServer, let tls = app.tls {
            switch tls.feed(bytes) {
            case .done(let hello):
                app.tls = nil
                notes[flow.id]?.appProto = "tls"
                notes[flow.id]?.sni = hello.serverName
                checkEgress(flow, time: time)
            case .notTLS:
                app.tls = nil
            case .needMore:
                break
            }
        }
        switch event {
        case .data(let bytes):
            if app.http.isHTTP != false { app.http.feed(bytes, direction: direction) { self.handle($0, flow: flow, time: time) } }
            if let lines = app.lines {
                if app.http.isHTTP == true {
                    app.lines = nil // HTTP it is
                } else {
                    lines.feed(bytes, direction: direction) { self.handle($0, flow: flow, time: time) }
                }
            }
        case .gap(let length):
            if app.http.isHTTP != false { app.http.gap(length, direction: direction) { self.handle($0, flow: flow, time: time) } }
            app.lines?.gap(length, direction: direction)
        case .end:
            if app.http.isHTTP != false { app.http.end(direction: direction) { self.handle($0, flow: flow, time: time) } }
            app.lines?.end(direction: direction) { self.handle($0, flow: flow, time: time) }
        }
        if app.http.isHTTP == true { app.tls = nil }
        if app.webSocket == nil && app.http.isHTTP == false && (app.lines?.verdict ?? .other) == .other && app.tls == nil {
            // Neither HTTP nor JSON-RPC lines: nothing here for the sensor; later packets cost
            // only the flow lookup. A WebSocket joined after its handshake cannot be read (the
            // negotiated extensions and any deflate history are unknown): say so rather than guess.
            if notes[flow.id]?.appProto == "tls" {
                counters.add("app.bypass_tls")
            } else if case .data(let bytes) = event, WebSocketSniffer.looksLikeFrame(bytes, direction: direction) {
                counters.add("websocket.midstream_not_decodable")
                if let f = detector?.policy.transportAnomaly("websocket.midstream_not_decodable") {
                    let (src, dst) = direction == .toServer ? (flow.client, flow.server) : (flow.server, flow.client)
                    raise(Alert(timestamp: time, flowId: flow.id, source: src, destination: dst, appProto: "websocket", finding: f))
                }
            } else {
                counters.add("app.bypass_unrecognised")
            }
            checkEgress(flow, time: time)
            bypass(flow)
        }
    }

    private func handle(_ output: LineJSONOutput, flow: Flow, time: Timestamp) {
        switch output {
        case .message(let direction, let bytes):
            notes[flow.id]?.appProto = "ndjson"
            let payload = MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                     direction: direction, transport: .tcp, appProto: "ndjson", bytes: bytes)
            process(payload, headers: nil)
        case .heartbeat:
            counters.add("mcp.tcp_heartbeat")
        case .anomaly(let direction, let name):
            notes[flow.id]?.carriesMCP = true // recognised as JSON-RPC lines
            raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: "ndjson")
        }
    }

    private func bypass(_ flow: Flow) {
        releaseApp(of: flow)
        flow.bypassed = true
    }

    private func handle(_ output: HTTPOutput, flow: Flow, time: Timestamp) {
        switch output {
        case .body(let direction, let context, let body):
            mcp(bytes: body, transport: .http, direction: direction, context: context, flow: flow, time: time)
        case .sseEvent(let context, let event):
            if event.event == "endpoint" {
                // Legacy HTTP+SSE (2024-11-05): the stream names the URL the client must POST to;
                // its session id joins this GET stream with those POSTs on other connections.
                if let id = LegacySSE.sessionID(inURL: String(decoding: event.data, as: UTF8.self)),
                   let app = flow.app as? FlowApp {
                    app.legacySessions[context.exchangeIndex] = id
                    // A connection opens few GET streams at a time: keep the recent ones only.
                    if app.legacySessions.count > 16 {
                        app.legacySessions = app.legacySessions.filter { $0.key > context.exchangeIndex - 16 }
                    }
                    counters.add("mcp.legacy_sse_endpoint")
                }
                return
            }
            guard !event.data.isEmpty else { return } // a priming event or keep-alive carries no message
            mcp(bytes: event.data, transport: .sse, direction: .toClient, context: context, flow: flow, time: time)
        case .upgrade(let context):
            startWebSocket(context, flow: flow, time: time)
        case .requestHead(let context):
            if let n = notes[flow.id] {
                if let headers = context.request?.headers,
                   headers["mcp-session-id"] != nil || headers["mcp-protocol-version"] != nil { n.carriesMCP = true }
                if n.httpHost == nil {
                    n.appProto = "http"
                    n.httpHost = context.request?.headers["host"]
                    checkEgress(flow, time: time)
                }
            }
        case .anomaly(let direction, let name):
            raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: "http")
        case .responseHead:
            break
        }
    }

    /// A 101 answer to `Upgrade: websocket` hands the connection to the WebSocket parser, with the
    /// negotiated subprotocol and extensions (permessage-deflate) of the server's answer. Other
    /// upgrades (h2c, CONNECT tunnels) carry nothing the sensor reads.
    private func startWebSocket(_ context: HTTPMessageContext, flow: Flow, time: Timestamp) {
        guard let app = flow.app as? FlowApp, let response = context.response, response.status == 101,
              context.request?.headers["upgrade"]?.lowercased().contains("websocket") == true else {
            counters.add("app.upgrade_not_websocket")
            bypass(flow)
            return
        }
        let handshake = WebSocketHandshake(subprotocol: response.headers["sec-websocket-protocol"],
                                           extensions: response.headers["sec-websocket-extensions"])
        let ws = WebSocketConnectionParser(handshake: handshake, limits: config.webSocket)
        app.webSocket = ws
        app.upgrade = context
        notes[flow.id]?.appProto = "websocket"
        if handshake.subprotocol?.lowercased().contains("mcp") == true { notes[flow.id]?.carriesMCP = true }
        app.lines = nil
        // Frames that travelled with the handshake: the client's may precede the 101 (sent
        // optimistically), the server's follow it in the same segment.
        let emitFrame: (WebSocketOutput) -> Void = { output in
            self.handle(output, app: app, flow: flow, time: time)
        }
        for direction in [Direction.toServer, .toClient] {
            let held = app.http.bytesAfterUpgrade(direction)
            if !held.isEmpty { held.withUnsafeBytes { ws.feed($0, direction: direction, emit: emitFrame) } }
        }
    }

    private func handle(_ output: WebSocketOutput, app: FlowApp, flow: Flow, time: Timestamp) {
        switch output {
        case .message(let direction, .text, let bytes):
            let request = app.upgrade?.request
            let http = HTTPContext(method: request?.method, url: request?.target, host: request?.headers["host"],
                                   status: app.upgrade?.response?.status)
            let payload = MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                     direction: direction, transport: .websocket, appProto: "websocket",
                                     http: http, bytes: bytes)
            process(payload, headers: direction == .toServer ? request?.headers : app.upgrade?.response?.headers)
        case .message(_, .binary, _):
            // MCP over WebSocket is one JSON-RPC message per text message (SDK transports).
            counters.add("websocket.binary_message_ignored")
        case .anomaly(let direction, let name):
            if PolicyDetectors.limitBreaches.contains(name) || PolicyDetectors.decompressionBombs.contains(name) {
                raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: "websocket")
                return
            }
            guard let detector, let f = detector.policy.transportAnomaly(name) else { return }
            // Once per anomaly kind per connection: a flood of bad frames is one finding.
            guard notes[flow.id]?.anomalies.insert(name).inserted ?? false else { return }
            let (src, dst) = direction == .toServer ? (flow.client, flow.server) : (flow.server, flow.client)
            raise(Alert(timestamp: time, flowId: flow.id, source: src, destination: dst, appProto: "websocket", finding: f))
        case .ping, .pong, .close:
            break
        }
    }

    private func mcp(bytes: [UInt8], transport: MCPTransport, direction: Direction, context: HTTPMessageContext,
                     flow: Flow, time: Timestamp) {
        let request = context.request
        let legacy = (flow.app as? FlowApp)?.legacySessions[context.exchangeIndex]
            ?? request.flatMap { LegacySSE.sessionID(inURL: $0.target) }
        let requestSession = request?.headers["mcp-session-id"] ?? legacy
        let session = direction == .toServer ? requestSession : (context.response?.headers["mcp-session-id"] ?? requestSession)
        let http = HTTPContext(method: request?.method, url: request?.target, host: request?.headers["host"],
                               status: context.response?.status)
        var payload = MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                 direction: direction, transport: transport, appProto: "http",
                                 exchange: context.exchangeIndex, sessionId: session,
                                 protocolVersionHeader: request?.headers["mcp-protocol-version"],
                                 http: http, bytes: bytes)
        if direction == .toServer {
            payload.methodHeader = request?.headers["mcp-method"]
            payload.nameHeader = request?.headers["mcp-name"]
        }
        process(payload, headers: direction == .toServer ? request?.headers : context.response?.headers)
    }

    /// Every message of a payload: its `mcp` event, then the alerts it raises.
    private func process(_ payload: MCPPayload, headers: HTTPHeaders?) {
        let before = tracker.messagesSeen
        defer {
            if tracker.messagesSeen > before { sawMCP(flowId: payload.flowId, server: payload.server) }
            if let rejection = tracker.lastRejection, PolicyDetectors.limitBreaches.contains(rejection.counterName) {
                let (src, dst) = payload.direction == .toServer ? (payload.client, payload.server) : (payload.server, payload.client)
                raiseSensorAnomaly(rejection.counterName, flowId: payload.flowId, source: src, destination: dst,
                                   time: payload.time, appProto: payload.appProto, server: payload.server)
            }
        }
        guard let detector else {
            tracker.process(payload) { event in write(EventEncoder.encode(event), type: "mcp") }
            return
        }
        toolObservations.removeAll()
        tracker.process(payload) { event, view in
            var e = event
            var (findings, secrets) = detector.inspect(e, view: view, headers: headers)
            for o in toolObservations { findings += detector.observe(o, serverName: e.serverName) }
            toolObservations.removeAll()
            if !secrets.isEmpty { redact(&e, view: view, secrets: secrets) }
            write(EventEncoder.encode(e), type: "mcp")
            for f in findings {
                raise(Alert(timestamp: e.timestamp, flowId: e.flowId, source: e.source, destination: e.destination,
                            appProto: e.appProto, finding: f, mcp: e))
            }
        }
    }

    // MARK: - the sensor under attack

    /// A flow carried MCP: its breaches are an analyst's business, and so are those of later
    /// connections to the same server.
    private func sawMCP(flowId: UInt64, server: Endpoint) {
        notes[flowId]?.carriesMCP = true
        if mcpServers.count < maxMCPServers { mcpServers.insert(server) }
    }

    /// Whether a connection carries MCP: a message was read on it, a request named an MCP
    /// header, its WebSocket subprotocol is `mcp`, it is JSON-RPC lines, or its server served MCP.
    private func carriesMCP(flowId: UInt64, server: Endpoint) -> Bool {
        notes[flowId]?.carriesMCP == true || mcpServers.contains(server)
    }

    private func raiseSensorAnomaly(_ name: String, flow: Flow, direction: Direction, time: Timestamp, appProto: String?) {
        let (src, dst) = direction == .toServer ? (flow.client, flow.server) : (flow.server, flow.client)
        raiseSensorAnomaly(name, flowId: flow.id, source: src, destination: dst, time: time, appProto: appProto, server: flow.server)
    }

    /// A limit breach or evasion sign as a `protocol` alert, once per kind per flow. Limit
    /// breaches of the parsers count only on MCP connections; decompression bombs and TCP-level
    /// signs on any connection the sensor reads.
    private func raiseSensorAnomaly(_ name: String, flowId: UInt64, source: Endpoint, destination: Endpoint,
                                    time: Timestamp, appProto: String?, server: Endpoint) {
        guard let detector, let n = notes[flowId] else { return }
        if PolicyDetectors.limitBreaches.contains(name) && !carriesMCP(flowId: flowId, server: server) { return }
        guard !n.anomalies.contains(name),
              let f = detector.policy.sensorAnomaly(name, detail: Limits.detail(forBreach: name, config: config)) else { return }
        n.anomalies.insert(name)
        raise(Alert(timestamp: time, flowId: flowId, source: source, destination: destination,
                    appProto: appProto ?? n.appProto, finding: f))
    }

    /// Keeps the total of application-layer buffers; past its limit the connection that grew
    /// is no longer read (its buffers are released), counted and, on an MCP connection, alerted.
    private func account(_ app: FlowApp, flow: Flow, direction: Direction, time: Timestamp) {
        guard flow.app === app else { return } // released meanwhile (bypassed, closed)
        let held = app.bufferedBytes
        appBufferedBytes += held - app.buffered
        app.buffered = held
        guard appBufferedBytes > config.maxAppBufferedBytesTotal else { return }
        counters.add("app.buffer_budget_shed")
        pressureAlert("app.buffer_budget_shed", gate: &sheddingGate, flow: flow, what: "shed")
        bypass(flow)
    }

    /// What reassembly noted during the last call (overlap conflicts, holes given up at a limit,
    /// urgent data removed), as alerts of this flow.
    private func reassemblyNotices(flow: Flow, direction: Direction, time: Timestamp) {
        guard !flows.reassembly.notices.isEmpty else { return }
        let names = flows.reassembly.notices
        flows.reassembly.notices.removeAll(keepingCapacity: true)
        for name in names { raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: nil) }
    }

    /// TTL games: the packets of one direction of a connection come from one host through one
    /// path, so their TTL is constant. A change means some packets may stop short of the endpoint
    /// (an inserted segment that the sensor reads and the endpoint never gets). Counted per packet,
    /// alerted once per flow. Returns whether the TTL is the direction's usual one.
    private func checkTTL(_ ttl: UInt8, flow: Flow, direction: Direction, time: Timestamp) -> Bool {
        guard let n = flow.notes as? FlowNotes else { return true }
        let value = max(ttl, 1)
        let seen = direction == .toServer ? n.ttlToServer : n.ttlToClient
        guard seen != 0 else {
            if direction == .toServer { n.ttlToServer = value } else { n.ttlToClient = value }
            return true
        }
        if seen == value { return true }
        counters.add("tcp.ttl_changed")
        raiseSensorAnomaly("tcp.ttl_changed", flow: flow, direction: direction, time: time, appProto: nil)
        return false
    }

    /// A flow evicted because the table is full.
    private func flowTablePressure(evicted flow: Flow) {
        pressureAlert("flow.evicted", gate: &evictionGate, flow: flow, what: "evicted")
    }

    /// Pressure alerts: one for the first event, then at most one per
    /// `flow.eviction_alert_interval_seconds` of packet time, counting the events since the last.
    private func pressureAlert(_ name: String, gate: inout PressureGate, flow: Flow, what: String) {
        guard let n = gate.admit(now: now, intervalSeconds: config.flow.evictionAlertIntervalSeconds) else { return }
        guard let detector else { return }
        let limit = Limits.detail(forBreach: name, config: config) ?? ""
        let detail = "\(limit); \(n) \(what) since the last such alert"
        guard let f = detector.policy.sensorAnomaly(name, detail: detail) else { return }
        raise(Alert(timestamp: now, flowId: flow.id, source: flow.client, destination: flow.server,
                    appProto: notes[flow.id]?.appProto, finding: f))
    }

    /// Nothing a detector recognised as a secret is written unmasked: not in `--payloads`
    /// messages, nor in fields copied from the message (tool name, ids, session id).
    private func redact(_ e: inout MCPEvent, view: MCPMessageView, secrets: Set<String>) {
        if config.mcp.includePayloads {
            e.message = PayloadRedaction.compactText(view.document, view.message.node, secrets: secrets)
        }
        func clean(_ s: String?) -> String? {
            guard var s else { return nil }
            for secret in secrets where s.contains(secret) { s = s.replacing(secret, with: Redaction.mask(secret)) }
            return s
        }
        e.tool = clean(e.tool)
        e.method = clean(e.method)
        e.sessionId = clean(e.sessionId)
        if case .string(let id)? = e.id, let masked = clean(id) { e.id = .string(masked) }
    }

    /// Every alert goes out through here: its flow is marked as alerted (for the `flow` event and
    /// `--pcap-alerts`) before the alert is written.
    private func raise(_ alert: Alert) {
        if let id = alert.flowId {
            notes[id]?.alerted = true
            alertCapture?.alert(flowId: id)
        }
        write(EventEncoder.encode(alert), type: "alert")
    }

    private func write(_ line: [UInt8], type: String) {
        eventCounts[type, default: 0] += 1
        eventsWritten += 1
        sink.write(line: line, type: type)
    }
}

/// Rate limit for pressure alerts: lets one through per interval, with how many it stands for.
struct PressureGate {
    private var since = 0
    private var last: Timestamp?

    mutating func admit(now: Timestamp, intervalSeconds: Int64) -> Int? {
        since += 1
        if let last, now.microseconds(since: last) < intervalSeconds &* 1_000_000 { return nil }
        last = now
        defer { since = 0 }
        return since
    }
}

/// What the sensor learnt of one flow, for its `flow` event and the egress check.
final class FlowNotes {
    var appProto: String?
    var sni: String?
    var httpHost: String?
    var egressChecked = false
    var alerted = false
    var anomalies: Set<String> = []
    /// MCP was seen on this connection (a message, an MCP header, the `mcp` subprotocol).
    var carriesMCP = false
    /// First IP TTL seen per direction (0: none yet; a TTL of 0 is kept as 1).
    var ttlToServer: UInt8 = 0
    var ttlToClient: UInt8 = 0
}
