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

// `@exclusivity(unchecked)` on plain-value fields (integers, flags, times) read and written on
// the per-packet path, and on the hooks read per packet and assigned only while the pipeline is
// set up (`alertCapture`, `willEndFlow`, `willProcessPacket`): every access is one load or store
// that runs no other code, so no two accesses can overlap and the run-time check (about 200
// instructions each, ~10 a packet) can never fire. Fields holding parser state or passed
// `inout` keep the check.
/// Per-flow application state: the HTTP parser of the connection (this object itself), and the
/// legacy HTTP+SSE session ids its GET streams announced (by exchange). A subclass of the parser,
/// not an object holding one: a delivery reads the flow, then this, not this and then the parser.
final class FlowApp: HTTPConnectionParser {
    // Declaration order is the layout, after the parser's own fields: what every delivery reads
    // (the budget's figure, which other parsers the connection has) first, then what a message
    // reads (the legacy sessions, the memos of the last head's fields), then the rare.
    // Unchecked (see above): each access loads or stores a reference, a value or a table entry;
    // the parsers are called through local references, never while an access lasts.
    /// What this flow's parsers held when last measured (part of the engine's total).
    @exclusivity(unchecked) var buffered = 0
    /// Newline-delimited JSON-RPC, tried beside HTTP until one of them recognises the stream:
    /// made for the first bytes HTTP does not recognise at once, not with every connection (most
    /// start with a request line, and the parser was made and freed for nothing).
    @exclusivity(unchecked) var lines: LineJSONParser?
    /// After a 101 to a WebSocket upgrade: the frames.
    @exclusivity(unchecked) var webSocket: WebSocketConnectionParser?
    /// The first client bytes are tried as a TLS ClientHello until it is read or ruled out
    /// (`tlsOpen` until then). The parser is made only for a first byte that starts a handshake
    /// record (22): any other is not TLS, known without it (an allocation, a feed and a counter
    /// that went with the parser, on every plain connection).
    @exclusivity(unchecked) var tls: TLSClientHelloParser?
    /// DNS over TCP (port 53): length-prefixed messages instead of HTTP.
    @exclusivity(unchecked) var dns: DNSStreamParser?
    @exclusivity(unchecked) var tlsOpen = true
    /// No longer tried: HTTP (or DNS, or a WebSocket) it is, or a gap came first.
    @exclusivity(unchecked) var linesRuledOut = false
    @exclusivity(unchecked) var legacySessions: [Int: String] = [:]
    /// The session id, host and protocol version last read from a head of this connection
    /// (`headerText`): every message of a session repeats them.
    @exclusivity(unchecked) var lastSessionID: String?
    @exclusivity(unchecked) var lastHost: String?
    @exclusivity(unchecked) var lastProtocolVersion: String?
    /// The exchange that upgraded the connection to a WebSocket, boxed: held inline, its 112
    /// bytes were in every connection's object for the few that upgrade.
    @exclusivity(unchecked) var upgraded: UpgradedExchange?

    /// Bytes the parsers of this flow hold now (the HTTP parser's, that is this object's, and
    /// the others').
    var parsersHeldBytes: Int {
        heldCapacity + (lines?.bufferedBytes ?? 0) + (webSocket?.bufferedBytes ?? 0)
            + (tls?.bufferedBytes ?? 0) + (dns?.bufferedBytes ?? 0)
    }

    init(limits: SharedHTTPLimits) {
        super.init(shared: limits, emitsResponseHeads: false)
    }

    /// The lines parser, made on first use; nil once ruled out.
    func linesParser(_ limits: LineJSONLimits) -> LineJSONParser? {
        if let lines { return lines }
        if linesRuledOut { return nil }
        let made = LineJSONParser(limits: limits)
        lines = made
        return made
    }

    func ruleOutLines() {
        lines = nil
        linesRuledOut = true
    }

    /// What the lines parser decided, or would say now: undecided before it is made.
    var linesVerdict: LineJSONParser.Verdict { lines?.verdict ?? (linesRuledOut ? .other : .undecided) }
}

/// The header fields whose text a connection's messages repeat, remembered per connection.
enum RememberedField { case sessionID, host, protocolVersion }

/// The text of a header value, or the String `memo` kept of that field when it is the same
/// bytes: a session's every message carries its id (36 bytes or more), host and protocol
/// version, each made into a String again otherwise. (Same bytes are valid UTF-8 then: the text
/// would be the same.)
func headerText(_ value: UnsafeRawBufferPointer, memo: FlowApp?, _ field: RememberedField) -> String {
    if let memo {
        let last: String?
        switch field {
        case .sessionID: last = memo.lastSessionID
        case .host: last = memo.lastHost
        case .protocolVersion: last = memo.lastProtocolVersion
        }
        if let last, last.utf8.count == value.count, last.withUTF8Bytes({ ByteHash.same(UnsafeRawBufferPointer($0), value) }) {
            return last
        }
    }
    let text = HTTPHeaders.text(value)
    switch field {
    case .sessionID: memo?.lastSessionID = text
    case .host: memo?.lastHost = text
    case .protocolVersion: memo?.lastProtocolVersion = text
    }
    return text
}

/// What the flow stage hands to the session stage, in packet order. Flow ids are the flow
/// stage's own (with several workers, each worker numbers its flows; the session stage gives
/// each flow its public id when it starts).
protocol SessionPort: AnyObject {
    /// A flow's first packet.
    func flowStarted(_ flowId: UInt64)
    /// A payload that may hold JSON-RPC messages (HTTP body, SSE event, WebSocket text, JSON line).
    /// `consuming`: the session stage changes the flow id of the payload it is given; handed
    /// over, the payload is moved, not copied with its dozen references retained.
    func mcpPayload(_ payload: consuming MCPPayload, headers: HTTPHeaders?)
    /// The connection is MCP by what its parsers saw (an MCP header, the `mcp` subprotocol, JSON-RPC lines).
    func carriesMCP(_ flowId: UInt64)
    /// A limit breach or evasion sign (`protocol` alert, once per kind per flow).
    func sensorAnomaly(_ anomaly: SensorAnomaly)
    /// A transport anomaly of the policy (WebSocket framing, a WebSocket joined mid-stream).
    func transportAnomaly(_ anomaly: SensorAnomaly, oncePerFlow: Bool)
    /// A flow evicted or a connection shed: a rate-limited pressure alert.
    func pressure(_ note: PressureNote)
    /// A connection whose destination is named (or ended unnamed): one egress judgement.
    func egress(_ connection: OutboundConnection)
    /// A DNS answer seen by `client`.
    func dnsAnswer(_ message: DNSMessage, client: IPAddress, time: Timestamp)
    /// A flow left the table; `record` lacks what only the session stage knows (DNS name, alerted).
    func flowEnded(_ record: consuming FlowRecord)
}

/// A sensor or transport anomaly of one flow, as the flow stage saw it.
struct SensorAnomaly {
    var name: String
    var flowId: UInt64
    var source: Endpoint
    var destination: Endpoint
    var time: Timestamp
    var appProto: String?
    var server: Endpoint
}

/// Pressure on the sensor (a flow evicted, a connection shed), with the flow it hit.
struct PressureNote {
    var name: String
    var what: String
    var flowId: UInt64
    var client: Endpoint
    var server: Endpoint
    var appProto: String?
    var time: Timestamp
}

/// The figures of a flow stage, for the `stats` event (summed over workers).
struct FlowFigures {
    var packets: UInt64 = 0
    var bytes: UInt64 = 0
    var flowsActive = 0
    var flowsCreated: UInt64 = 0
    var flowsEvicted: UInt64 = 0
    var flowsTimedOut: UInt64 = 0
    var gaps = 0
    var gapBytes = 0
    var pendingBytes = 0
    var appBufferedBytes = 0
    var counters = Counters()

    mutating func add(_ o: FlowFigures) {
        packets += o.packets
        bytes += o.bytes
        flowsActive += o.flowsActive
        flowsCreated += o.flowsCreated
        flowsEvicted += o.flowsEvicted
        flowsTimedOut += o.flowsTimedOut
        gaps += o.gaps
        gapBytes += o.gapBytes
        pendingBytes += o.pendingBytes
        appBufferedBytes += o.appBufferedBytes
        counters.merge(o.counters)
    }
}

/// The request and response that upgraded a connection to a WebSocket (see `FlowApp.upgraded`).
final class UpgradedExchange {
    let context: HTTPMessageContext
    init(_ context: HTTPMessageContext) { self.context = context }
}

/// The per-flow half of the pipeline: flows → reassembly → HTTP/SSE/WebSocket/lines/TLS/DNS.
/// Everything here depends on one flow only, so several workers can each run one on their share
/// of the flows. What it finds goes to a `SessionPort` in packet order.
final class FlowStage {
    let config: EngineConfig
    let detectionOn: Bool
    private let port: SessionPort
    /// `config.http`, held once for every connection's parser.
    private let httpLimits: SharedHTTPLimits
    /// Decodes raw packets (one worker); with several workers the reader thread decodes.
    // Unchecked: decoding calls nothing outside the decoder, so no access can overlap this one.
    @exclusivity(unchecked) private(set) var decoder: PacketDecoder
    let flows: FlowTable
    private(set) var counters = Counters()
    /// Bytes held by the application-layer parsers of this stage's flows.
    @exclusivity(unchecked) private(set) var appBufferedBytes = 0
    @exclusivity(unchecked) var alertCapture: AlertCapture?
    @exclusivity(unchecked) private(set) var packets: UInt64 = 0
    @exclusivity(unchecked) private(set) var bytes: UInt64 = 0
    /// The latest packet time seen: the clock for timeouts and for events raised without a packet.
    @exclusivity(unchecked) private(set) var now = Timestamp.zero
    /// The position of the packet being processed in the timeline (see `Flow.lastSeq`).
    @exclusivity(unchecked) private(set) var seq: UInt64 = 0
    /// Called before a flow that ends outside its own packet (timed out, drained at the end) is
    /// finished, with the key that orders such endings: the flow's last packet when it timed out,
    /// its first when drained. The parallel engine groups the session work by it.
    @exclusivity(unchecked) var willEndFlow: ((UInt64) -> Void)?
    /// Called when the work of a timeline position's own packet begins.
    @exclusivity(unchecked) var willProcessPacket: (() -> Void)?

    init(config: EngineConfig, port: SessionPort) {
        self.config = config
        self.detectionOn = config.detection != nil
        self.port = port
        self.httpLimits = SharedHTTPLimits(config.http)
        self.decoder = PacketDecoder(limits: config.decode)
        self.flows = FlowTable(config: config.flow)
    }

    var figures: FlowFigures {
        var f = FlowFigures()
        f.packets = packets
        f.bytes = bytes
        f.flowsActive = flows.count
        f.flowsCreated = flows.flowsCreated
        f.flowsEvicted = flows.flowsEvicted
        f.flowsTimedOut = flows.flowsTimedOut
        f.gaps = flows.reassembly.gaps
        f.gapBytes = flows.reassembly.gapBytes
        f.pendingBytes = flows.reassembly.pendingBytesTotal
        f.appBufferedBytes = appBufferedBytes
        var all = counters
        all.merge(decoder.counters)
        all.merge(flows.reassembly.counters)
        if let capture = alertCapture { all.merge(capture.counters) }
        f.counters = all
        return f
    }

    /// The hash of the packet after the next one, once its bucket was asked for.
    @exclusivity(unchecked) private var comingHash: UInt64?

    /// Fetches ahead the flows of the packets coming after the one about to be processed, so
    /// that their lookups do not wait on memory: `afterNext` is the second packet after it. Its
    /// bucket in the flow index is asked for now, its flow at the next call, once the bucket has
    /// come. Called before each packet (one worker reading a capture in place; each worker of
    /// several, from its batch); hints only, nothing here changes what a packet does.
    func anticipate(_ afterNext: UnsafeRawBufferPointer?, linkType: Int32) {
        anticipate(afterNext.flatMap { PacketDecoder.flowTuple($0, linkType: linkType) })
    }

    /// As `anticipate(_:linkType:)`, with the tuple of the packet after the next (a worker's
    /// packets come decoded).
    func anticipate(_ afterNext: FlowTuple?) {
        if let hash = comingHash { flows.fetchFlow(hash: hash) }
        comingHash = afterNext.map { flows.fetchBucket($0) }
    }

    /// One raw packet (one worker: this stage decodes).
    func process(_ packet: CapturedPacket, linkType: Int32) {
        advance(to: packet.timestamp, seq: seq &+ 1)
        packets += 1
        bytes += UInt64(packet.wireLength)
        guard let p = decoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: linkType,
                                     timestamp: packet.timestamp) else { return }
        process(decoded: p, wireLength: packet.wireLength, packet: packet, linkType: linkType)
    }

    /// A timeline position: the clock moves to `time` and idle flows end. With several workers
    /// every worker sees every position, so flows time out exactly where one table would end them.
    func advance(to time: Timestamp, seq position: UInt64) {
        seq = position
        if time > now { now = time }
        flows.expire(now: now)
        finishEndedFlows(outsideOwnPacket: true)
    }

    /// Live capture on a quiet link: the wall clock stands in for the packet clock.
    func advanceClock(to time: Timestamp, seq position: UInt64) {
        guard time > now else { seq = position; return }
        advance(to: time, seq: position)
    }

    /// The flow of a packet, and its direction in it.
    private func flowOf(_ p: DecodedPacket) -> (Flow, Direction) {
        let (flow, direction) = flows.flow(for: p)
        guard flow.closed, p.transport == .tcp, p.tcp.flags.contains(.syn), !p.tcp.flags.contains(.ack) else {
            return (flow, direction)
        }
        // A new connection reusing the 5-tuple of one that closed: end the old flow, start anew.
        flows.end(flow)
        finishEndedFlows(outsideOwnPacket: false)
        return flows.flow(for: p)
    }

    /// A decoded packet at the current timeline position (`advance` was called for it).
    func process(decoded p: DecodedPacket, wireLength: Int, packet: CapturedPacket?, linkType: Int32) {
        willProcessPacket?()
        // Constants, not variables: the reassemblers' callbacks capture them, and a captured
        // variable is checked for exclusive access at run time on every call.
        let (flow, direction) = flowOf(p)
        flows.count(packet: wireLength, flow: flow, direction: direction)
        flow.lastSeq = seq
        if let packet { alertCapture?.packet(packet, linkType: linkType, flowId: flow.id) }
        finishEndedFlows(outsideOwnPacket: false) // a flow evicted to make room
        if flow.packets[0] + flow.packets[1] == 1 {
            flow.firstSeq = seq
            let n = FlowNotes()
            flow.notes = n
            port.flowStarted(flow.id)
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
        let other = direction.reversed
        // The segment, then the acknowledgment it carries for the other direction, under one
        // access to the flow's reassemblers and one to the reassembly context, both unchecked
        // (`withStreams`: the callbacks reach neither). Notices are raised between the two
        // calls, so a segment that left notices ends the accesses before the acknowledgment.
        let noticed = flows.withStreams(of: flow) { streams, context -> (segment: Bool, ack: Bool?) in
            let noticed = streams[direction.index].segment(seq: p.tcp.seq, flags: flags, payload: p.payload,
                                                           urgentPointer: p.tcp.urgentPointer, context: &context) { event in
                deliver(event, flow: flow, direction: direction, time: time)
            }
            guard !noticed, flags.contains(.ack) else { return (noticed, nil) }
            return (false, streams[other.index].acknowledged(p.tcp.ack, context: &context) { event in
                deliver(event, flow: flow, direction: other, time: time)
            })
        }
        if noticed.segment {
            reassemblyNotices(flow: flow, direction: direction, time: time)
            if flags.contains(.ack) {
                let noticedAck = flow.streams[other.index].acknowledged(p.tcp.ack, context: &flows.reassembly) { event in
                    deliver(event, flow: flow, direction: other, time: time)
                }
                if noticedAck { reassemblyNotices(flow: flow, direction: other, time: time) }
            }
        } else if noticed.ack == true {
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

    /// Ends every open flow, delivering what each still holds (end of input, shutdown).
    func finishFlows(seq position: UInt64) {
        seq = position
        flows.drainAll()
        finishEndedFlows(outsideOwnPacket: true, drained: true)
    }

    // MARK: - flows ending

    private func finishEndedFlows(outsideOwnPacket: Bool, drained: Bool = false) {
        guard flows.hasEnded else { return }
        let ended = flows.takeEnded()
        for (flow, reason) in ended {
            if outsideOwnPacket { willEndFlow?(drained ? flow.firstSeq : flow.lastSeq) }
            if reason == .evicted {
                counters.add("flow.evicted")
                pressure("flow.evicted", what: "evicted", flow: flow)
            }
            closeStreams(of: flow, time: now)
            releaseApp(of: flow)
            checkEgress(flow, time: flow.firstSeen)
            let n = notes(flow)
            port.flowEnded(FlowRecord(flowId: flow.id, client: flow.client, server: flow.server, transport: flow.transport,
                                      appProto: n?.appProto, start: flow.firstSeen, end: now,
                                      packets: (flow.packets[0], flow.packets[1]), bytes: (flow.bytes[0], flow.bytes[1]),
                                      reason: reason.rawValue, sni: n?.sni, httpHost: n?.httpHost, dnsName: nil,
                                      alerted: false))
            flow.notes = nil
            alertCapture?.flowEnded(flow.id)
        }
    }

    /// One egress judgement per flow, once what names its destination is known (or at its end).
    private func checkEgress(_ flow: Flow, time: Timestamp) {
        guard detectionOn, let n = notes(flow), !n.egressChecked else { return }
        n.egressChecked = true
        port.egress(OutboundConnection(flowId: flow.id, client: flow.client, server: flow.server, time: time,
                                       appProto: n.appProto, sni: n.sni, httpHost: n.httpHost))
    }

    /// UDP: DNS answers name addresses; a new UDP pair opened by an MCP server host is judged as egress.
    private func udp(_ p: DecodedPacket, flow: Flow, direction: Direction) {
        guard detectionOn else { return }
        if p.srcPort == 53 || p.dstPort == 53 {
            notes(flow)?.appProto = "dns"
            if let m = DNSParser.parse(p.payload) {
                // The answer's receiver is the host that asked.
                port.dnsAnswer(m, client: p.dst, time: p.timestamp)
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
            counters.merge(app.counters)
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
            app = FlowApp(limits: httpLimits)
            if flow.server.port == 53 {
                app.dns = DNSStreamParser()
                app.tlsOpen = false
                app.ruleOutLines()
                notes(flow)?.appProto = "dns"
            }
            flow.app = app
        }
        defer { account(app, flow: flow, direction: direction, time: time) }
        if let dns = app.dns {
            switch event {
            case .data(let bytes):
                dns.feed(bytes, direction: direction) { _, m in
                    if self.detectionOn { self.port.dnsAnswer(m, client: flow.client.address, time: time) }
                }
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
        if case .data(let bytes) = event, direction == .toServer, app.tlsOpen, let first = bytes.first {
            if app.tls == nil {
                if first == 22 { app.tls = TLSClientHelloParser() } else { app.tlsOpen = false }
            }
            switch app.tls?.feed(bytes) {
            case .done(let hello)?:
                app.tls = nil
                app.tlsOpen = false
                notes(flow)?.appProto = "tls"
                notes(flow)?.sni = hello.serverName
                checkEgress(flow, time: time)
            case .notTLS?:
                app.tls = nil
                app.tlsOpen = false
            case .needMore?, nil:
                break
            }
        }
        switch event {
        case .data(let bytes):
            if app.isHTTP != false { app.feed(bytes, direction: direction) { self.handle($0, flow: flow, time: time) } }
            if app.isHTTP == true {
                if !app.linesRuledOut { app.ruleOutLines() } // HTTP it is
            } else if let lines = app.linesParser(config.lines) {
                lines.feed(bytes, direction: direction) { self.handle($0, flow: flow, time: time) }
            }
        case .gap(let length):
            if app.isHTTP != false { app.gap(length, direction: direction) { self.handle($0, flow: flow, time: time) } }
            // A gap before any bytes rules the lines out, as the parser itself would.
            if let lines = app.lines { lines.gap(length, direction: direction) } else { app.ruleOutLines() }
        case .end:
            if app.isHTTP != false { app.end(direction: direction) { self.handle($0, flow: flow, time: time) } }
            app.lines?.end(direction: direction) { self.handle($0, flow: flow, time: time) }
        }
        if app.isHTTP == true {
            app.tls = nil
            app.tlsOpen = false
        }
        if app.webSocket == nil && app.isHTTP == false && app.linesVerdict == .other && !app.tlsOpen {
            // Neither HTTP nor JSON-RPC lines: nothing here for the sensor; later packets cost
            // only the flow lookup. A WebSocket joined after its handshake cannot be read (the
            // negotiated extensions and any deflate history are unknown): say so rather than guess.
            if notes(flow)?.appProto == "tls" {
                counters.add("app.bypass_tls")
            } else if case .data(let bytes) = event, WebSocketSniffer.looksLikeFrame(bytes, direction: direction) {
                counters.add("websocket.midstream_not_decodable")
                if detectionOn {
                    port.transportAnomaly(anomaly("websocket.midstream_not_decodable", flow: flow, direction: direction,
                                                  time: time, appProto: "websocket"), oncePerFlow: false)
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
            notes(flow)?.appProto = "ndjson"
            let payload = MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                     direction: direction, transport: .tcp, appProto: "ndjson", bytes: bytes)
            port.mcpPayload(payload, headers: nil)
        case .heartbeat:
            counters.add("mcp.tcp_heartbeat")
        case .anomaly(let direction, let name):
            port.carriesMCP(flow.id) // recognised as JSON-RPC lines
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
            if let n = notes(flow) {
                // Once per flow: the session stage's mark only ever goes from no to yes.
                if !n.saidCarriesMCP, let headers = context.request?.headers,
                   headers.contains("mcp-session-id") || headers.contains("mcp-protocol-version") {
                    n.saidCarriesMCP = true
                    port.carriesMCP(flow.id)
                }
                if n.httpHost == nil {
                    n.appProto = "http"
                    n.httpHost = context.request?.headers["host"]
                    checkEgress(flow, time: time)
                }
            }
        case .anomaly(let direction, let name):
            raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: "http")
        case .responseHead:
            break // not handed out to this stage (`emitsResponseHeads`)
        }
    }

    /// A 101 answer to `Upgrade: websocket` hands the connection to the WebSocket parser, with the
    /// negotiated subprotocol and extensions (permessage-deflate) of the server's answer. Other
    /// upgrades (h2c, CONNECT tunnels) carry nothing the sensor reads.
    private func startWebSocket(_ context: HTTPMessageContext, flow: Flow, time: Timestamp) {
        guard let app = flow.app as? FlowApp, let response = context.response, response.status == 101,
              let upgrade = context.request?.headers["upgrade"], asciiContainsLowercased(upgrade, "websocket") else {
            counters.add("app.upgrade_not_websocket")
            bypass(flow)
            return
        }
        let handshake = WebSocketHandshake(subprotocol: response.headers["sec-websocket-protocol"],
                                           extensions: response.headers["sec-websocket-extensions"])
        let ws = WebSocketConnectionParser(handshake: handshake, limits: config.webSocket)
        app.webSocket = ws
        app.upgraded = UpgradedExchange(context)
        notes(flow)?.appProto = "websocket"
        if let subprotocol = handshake.subprotocol, asciiContainsLowercased(subprotocol, "mcp"), notes(flow) != nil {
            port.carriesMCP(flow.id)
        }
        app.ruleOutLines()
        // Frames that travelled with the handshake: the client's may precede the 101 (sent
        // optimistically), the server's follow it in the same segment.
        let emitFrame: (WebSocketOutput) -> Void = { output in
            self.handle(output, app: app, flow: flow, time: time)
        }
        for direction in [Direction.toServer, .toClient] {
            let held = app.bytesAfterUpgrade(direction)
            if !held.isEmpty { held.withUnsafeBytes { ws.feed($0, direction: direction, emit: emitFrame) } }
        }
    }

    private func handle(_ output: WebSocketOutput, app: FlowApp, flow: Flow, time: Timestamp) {
        switch output {
        case .message(let direction, .text, let bytes):
            let upgraded = app.upgraded
            let request = upgraded?.context.request
            let http = HTTPContext(method: request?.method, url: request?.target,
                                   host: request?.headers.firstValue("host") { headerText($0, memo: app, .host) },
                                   status: upgraded?.context.response?.status)
            let payload = MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                     direction: direction, transport: .websocket, appProto: "websocket",
                                     http: http, bytes: bytes)
            port.mcpPayload(payload, headers: direction == .toServer ? request?.headers : upgraded?.context.response?.headers)
        case .message(_, .binary, _):
            // MCP over WebSocket is one JSON-RPC message per text message (SDK transports).
            counters.add("websocket.binary_message_ignored")
        case .anomaly(let direction, let name):
            if PolicyDetectors.limitBreaches.contains(name) || PolicyDetectors.decompressionBombs.contains(name) {
                raiseSensorAnomaly(name, flow: flow, direction: direction, time: time, appProto: "websocket")
                return
            }
            guard detectionOn, notes(flow) != nil else { return }
            // Once per anomaly kind per connection: a flood of bad frames is one finding.
            port.transportAnomaly(anomaly(name, flow: flow, direction: direction, time: time, appProto: "websocket"),
                                  oncePerFlow: true)
        case .ping, .pong, .close:
            break
        }
    }

    private func mcp(bytes: [UInt8], transport: MCPTransport, direction: Direction, context: HTTPMessageContext,
                     flow: Flow, time: Timestamp) {
        let request = context.request
        let app = flow.app as? FlowApp
        let legacy = app?.legacySessions[context.exchangeIndex]
            ?? request.flatMap { LegacySSE.sessionID(inURL: $0.target) }
        let requestSession = request?.headers.firstValue("mcp-session-id") { headerText($0, memo: app, .sessionID) } ?? legacy
        let session = direction == .toServer ? requestSession
            : (context.response?.headers.firstValue("mcp-session-id") { headerText($0, memo: app, .sessionID) } ?? requestSession)
        let http = HTTPContext(method: request?.method, url: request?.target,
                               host: request?.headers.firstValue("host") { headerText($0, memo: app, .host) },
                               status: context.response?.status)
        // Made whole and handed over at once: the session stage takes it (`consuming`) without a copy.
        let toServer = direction == .toServer
        port.mcpPayload(MCPPayload(time: time, flowId: flow.id, client: flow.client, server: flow.server,
                                   direction: direction, transport: transport, appProto: "http",
                                   exchange: context.exchangeIndex, sessionId: session,
                                   protocolVersionHeader: request?.headers.firstValue("mcp-protocol-version") {
                                       headerText($0, memo: app, .protocolVersion)
                                   }, http: http,
                                   methodHeader: toServer ? request?.headers["mcp-method"] : nil,
                                   nameHeader: toServer ? request?.headers["mcp-name"] : nil, bytes: bytes),
                        headers: toServer ? request?.headers : context.response?.headers)
    }

    // MARK: - the sensor under attack

    private func anomaly(_ name: String, flow: Flow, direction: Direction, time: Timestamp, appProto: String?) -> SensorAnomaly {
        let (src, dst) = direction == .toServer ? (flow.client, flow.server) : (flow.server, flow.client)
        return SensorAnomaly(name: name, flowId: flow.id, source: src, destination: dst, time: time,
                             appProto: appProto ?? notes(flow)?.appProto, server: flow.server)
    }

    /// A limit breach or evasion sign, for the session stage to judge (it knows which connections
    /// carry MCP and which kinds this flow already raised).
    private func raiseSensorAnomaly(_ name: String, flow: Flow, direction: Direction, time: Timestamp, appProto: String?) {
        guard detectionOn, notes(flow) != nil else { return }
        port.sensorAnomaly(anomaly(name, flow: flow, direction: direction, time: time, appProto: appProto))
    }

    /// Keeps the total of application-layer buffers; past its limit the connection that grew
    /// is no longer read (its buffers are released), counted and, on an MCP connection, alerted.
    private func account(_ app: FlowApp, flow: Flow, direction: Direction, time: Timestamp) {
        guard flow.app === app else { return } // released meanwhile (bypassed, closed)
        let held = app.parsersHeldBytes
        appBufferedBytes += held - app.buffered
        app.buffered = held
        guard appBufferedBytes > config.maxAppBufferedBytesTotal else { return }
        counters.add("app.buffer_budget_shed")
        pressure("app.buffer_budget_shed", what: "shed", flow: flow)
        bypass(flow)
    }

    private func pressure(_ name: String, what: String, flow: Flow) {
        port.pressure(PressureNote(name: name, what: what, flowId: flow.id, client: flow.client, server: flow.server,
                                   appProto: notes(flow)?.appProto, time: now))
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
    /// What the stage learnt of an open flow (its `flow` event, the egress check): kept on the
    /// flow itself, from its first packet to its end.
    @inline(__always) private func notes(_ flow: Flow) -> FlowNotes? { flow.notes as? FlowNotes }

    private func checkTTL(_ ttl: UInt8, flow: Flow, direction: Direction, time: Timestamp) -> Bool {
        let value = max(ttl, 1)
        let seen = flow.firstTTL[direction.index]
        guard seen != 0 else {
            flow.firstTTL[direction.index] = value
            return true
        }
        if seen == value { return true }
        counters.add("tcp.ttl_changed")
        raiseSensorAnomaly("tcp.ttl_changed", flow: flow, direction: direction, time: time, appProto: nil)
        return false
    }
}

/// What the flow stage learnt of one flow, for its `flow` event and the egress check.
final class FlowNotes {
    var appProto: String?
    var sni: String?
    var httpHost: String?
    @exclusivity(unchecked) var egressChecked = false
    /// Whether a request head's MCP header was passed on as `carriesMCP` already.
    @exclusivity(unchecked) var saidCarriesMCP = false
}
