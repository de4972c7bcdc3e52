import SonarCapture
import SonarCore
import SonarDetect
import SonarMCP
import SonarOutput
import SonarProtocols

/// The cross-flow half of the pipeline: MCP sessions and tool inventories, the detectors and
/// the events, in packet order. MCP state spans connections (a legacy SSE stream and the POSTs
/// of other connections, sessions continued by `Mcp-Session-Id`, a server's tools across its
/// clients, DNS answers naming other flows' destinations), so there is one of these however many
/// workers read the flows.
final class SessionStage: SessionPort {
    private(set) var config: EngineConfig
    let tracker: MCPTracker
    let detector: DetectionEngine?
    private let sink: EventSink
    /// Every event is encoded here and handed to the sink in place: a writer made per event
    /// allocated its buffer, and its bytes were copied into an Array, for each line.
    /// Unchecked exclusivity (three accesses a line): only `writeEvent` touches it, and what
    /// runs during its accesses (the encoder, the sink's write) never reaches this stage.
    @exclusivity(unchecked) private var writer = JSONWriter()
    /// Tool inventory changes the tracker saw in the message being processed. Unchecked: each
    /// access is an append (from the tracker's hook), a copy for a loop, or an emptying, none
    /// held across a call.
    @exclusivity(unchecked) private var toolObservations: [ToolObservation] = []
    // Unchecked exclusivity on the tables below (touched a few times per message): each access
    // is one lookup, insertion or removal of the standard library's over integers, strings or
    // endpoints, running no code of this stage, so no two can overlap.
    /// Events written, by `event_type` (`EventType.allCases` order): counted on every event, so
    /// in a fixed array rather than a dictionary keyed by the type's name.
    @exclusivity(unchecked) private var eventCounts: InlineArray<4, Int> = [0, 0, 0, 0]
    /// Per open flow, by public id: what only this stage decides.
    @exclusivity(unchecked) private var notes: [UInt64: SessionNotes] = [:]
    /// Flow stage id → public flow id, per worker. With one worker both are the same numbers.
    @exclusivity(unchecked) private var flowIds: [[UInt64: UInt64]]
    @exclusivity(unchecked) private var nextFlowId: UInt64 = 1
    /// The worker whose work is being run (set by the parallel engine between groups).
    @exclusivity(unchecked) var worker = 0
    /// Server endpoints seen carrying MCP (bounded): a limit breach on a new connection to one
    /// of them is on an MCP connection even before its first message is read.
    @exclusivity(unchecked) private var mcpServers: Set<Endpoint> = []
    private let maxMCPServers = 10_000
    /// This stage's own breaches: secret matches and content findings past a message's reported
    /// ones, payloads withheld for the number of their secrets.
    private var counters = Counters()
    /// Pressure on the sensor (flows evicted, connections shed): one alert per interval each.
    private var evictionGate = PressureGate()
    private var sheddingGate = PressureGate()
    var flowEvents = true
    var alertCapture: AlertCapture?
    /// Events written so far (every type); read by other threads for the progress line.
    @exclusivity(unchecked) private(set) var eventsWritten = 0

    init(config: EngineConfig, sink: EventSink, workers: Int = 1) {
        self.config = config
        self.tracker = MCPTracker(config: config.mcp)
        self.detector = config.detection.map { DetectionEngine(config: $0) }
        self.sink = sink
        self.flowIds = Array(repeating: [:], count: max(1, workers))
        self.remembered = Array(repeating: RememberedFlow(), count: Self.rememberedFlows(workers: workers))
        if let detector {
            tracker.observeTools = { [unowned self] in self.toolObservations.append($0) }
            detector.policy.toolListed = { [unowned self] server, tool in self.tracker.isToolListed(server: server, tool: tool) }
        }
    }

    func reload(_ new: DetectionConfig) -> Bool {
        guard let detector else { return false }
        detector.reload(new)
        config.detection = new
        return true
    }

    private func publicId(_ local: UInt64) -> UInt64 { openFlow(local).id }

    /// The public id and notes of a flow by its flow stage id. The flows of recent lookups are
    /// remembered, direct-mapped by that id, so that a message finds its flow without two
    /// dictionary lookups (a hash and a cache miss each). Only open flows are remembered: an
    /// entry is made with the flow (`flowStarted`) or on a lookup that finds it open, and
    /// dropped when the flow ends, so it always agrees with the tables.
    private func openFlow(_ local: UInt64) -> (id: UInt64, notes: SessionNotes?) {
        let slot = rememberedSlot(local)
        let m = remembered[slot]
        if m.local == local && m.worker == worker, let n = m.notes { return (m.id, n) }
        let id = flowIds[worker][local] ?? local
        let n = notes[id]
        if let n { remembered[slot] = RememberedFlow(local: local, worker: worker, id: id, notes: n) }
        return (id, n)
    }

    private struct RememberedFlow {
        var local: UInt64 = 0
        var worker = 0
        var id: UInt64 = 0
        var notes: SessionNotes?
    }
    /// 4096 slots a worker (the workers' count rounded up to a power of two; the command line
    /// allows 64 at most, and the table stops growing there: 8 MiB). With 1024, the benchmark's
    /// thousand concurrent connections missed on a fifth of their messages (ids a multiple of
    /// 1024 apart share a slot), each miss two dictionary lookups.
    private static func rememberedFlows(workers: Int) -> Int {
        var n = 1
        while n < workers && n < 64 { n <<= 1 }
        return 4096 * n
    }
    /// The slot of a flow stage id of the current worker. Each worker numbers its flows from 1,
    /// so by the id alone the flows of two workers with the same number took the same slot
    /// and pushed each other out: the worker's number is in the slot too.
    private func rememberedSlot(_ local: UInt64) -> Int {
        (Int(truncatingIfNeeded: local) &* flowIds.count &+ worker) & (remembered.count - 1)
    }
    // Unchecked like the tables: each access is one read or store of an element.
    @exclusivity(unchecked) private var remembered: [RememberedFlow]

    // MARK: - SessionPort

    func flowStarted(_ flowId: UInt64) {
        let id = nextFlowId
        nextFlowId += 1
        flowIds[worker][flowId] = id
        let n = SessionNotes()
        notes[id] = n
        remembered[rememberedSlot(flowId)] = RememberedFlow(local: flowId, worker: worker, id: id, notes: n)
    }

    func carriesMCP(_ flowId: UInt64) {
        openFlow(flowId).notes?.carriesMCP = true
    }

    func flowEnded(_ record: consuming FlowRecord) {
        let local = record.flowId
        var r = consume record
        let id = publicId(local)
        r.flowId = id
        if let d = detector { r.dnsName = d.egress.dnsNames(r.server.address, client: r.client.address, at: r.start)?.first }
        r.alerted = notes[id]?.alerted ?? false
        if flowEvents {
            writeEvent(.flow) { EventEncoder.writeFlow(r, into: &$0) }
        }
        notes[id] = nil
        flowIds[worker][local] = nil
        let slot = rememberedSlot(local)
        if remembered[slot].local == local && remembered[slot].worker == worker { remembered[slot] = RememberedFlow() }
    }

    func egress(_ connection: OutboundConnection) {
        guard let detector else { return }
        var c = connection
        c.flowId = publicId(connection.flowId)
        if let alert = detector.egress.inspect(c) { raise(alert) }
    }

    func dnsAnswer(_ message: DNSMessage, client: IPAddress, time: Timestamp) {
        detector?.egress.learn(message, client: client, time: time)
    }

    func sensorAnomaly(_ a: SensorAnomaly) {
        raiseSensorAnomaly(a.name, flowId: publicId(a.flowId), source: a.source, destination: a.destination,
                           time: a.time, appProto: a.appProto, server: a.server)
    }

    func transportAnomaly(_ a: SensorAnomaly, oncePerFlow: Bool) {
        guard let detector, let f = detector.policy.transportAnomaly(a.name) else { return }
        let id = publicId(a.flowId)
        if oncePerFlow {
            guard notes[id]?.anomalies.insert(a.name).inserted ?? false else { return }
        }
        raise(Alert(timestamp: a.time, flowId: id, source: a.source, destination: a.destination, appProto: a.appProto, finding: f))
    }

    /// Pressure alerts: one for the first event, then at most one per
    /// `flow.eviction_alert_interval_seconds` of packet time, counting the events since the last.
    func pressure(_ p: PressureNote) {
        let admitted = p.name == "flow.evicted"
            ? evictionGate.admit(now: p.time, intervalSeconds: config.flow.evictionAlertIntervalSeconds)
            : sheddingGate.admit(now: p.time, intervalSeconds: config.flow.evictionAlertIntervalSeconds)
        guard let n = admitted, let detector else { return }
        let limit = Limits.detail(forBreach: p.name, config: config) ?? ""
        let detail = "\(limit); \(n) \(p.what) since the last such alert"
        guard let f = detector.policy.sensorAnomaly(p.name, detail: detail) else { return }
        raise(Alert(timestamp: p.time, flowId: publicId(p.flowId), source: p.client, destination: p.server,
                    appProto: p.appProto, finding: f))
    }

    func mcpPayload(_ payload: consuming MCPPayload, headers: HTTPHeaders?) {
        let (parsed, rejection) = tracker.parse(payload)
        mcpPayload(consume payload, headers: headers, parsed: parsed, rejection: rejection,
                   digests: PerMessage(), secretLocations: nil)
    }

    /// A payload made ready by a worker thread: parsed, its messages' digests and secrets found.
    func mcpPayload(_ payload: consuming MCPPayload, headers: HTTPHeaders?, prepared: consuming PreparedPayload) {
        // The parse taken out, not read through the parameter: read through it, the whole
        // prepared payload was copied first (each of the parse's references retained, on the
        // session thread, for objects the worker made: a cache line fetched from the other core
        // and written), then released with it.
        var prepared = consume prepared
        let parsed = prepared.parsed.take()
        mcpPayload(consume payload, headers: headers, parsed: parsed, rejection: prepared.rejection,
                   digests: prepared.digests, secretLocations: prepared.secrets)
    }

    /// Every message of a payload: its `mcp` event, then the alerts it raises. `digests` and
    /// `secretLocations`: worked out ahead by a worker thread, or empty and nil when not. The
    /// parts are passed apart: a whole `PreparedPayload?`, nil with one worker, was copied
    /// several times a payload (150 bytes each).
    private func mcpPayload(_ original: consuming MCPPayload, headers: HTTPHeaders?, parsed: JSONRPCParseResult?,
                            rejection: JSONError?, digests: PerMessage<SHA256Value?>,
                            secretLocations: PerMessage<SecretLocations>?) {
        let flow = openFlow(original.flowId)
        var payload = consume original
        payload.flowId = flow.id
        let before = tracker.messagesSeen
        defer {
            if tracker.messagesSeen > before { sawMCP(flow.notes, server: payload.server) }
            if let rejection = tracker.lastRejection, PolicyDetectors.limitBreaches.contains(rejection.counterName) {
                let (src, dst) = payload.direction == .toServer ? (payload.client, payload.server) : (payload.server, payload.client)
                raiseSensorAnomaly(rejection.counterName, flowId: payload.flowId, source: src, destination: dst,
                                   time: payload.time, appProto: payload.appProto, server: payload.server)
            }
        }
        guard let detector else {
            tracker.process(payload, parsed: parsed, rejection: rejection, digests: digests) { event, _ in
                self.writeEvent(.mcp) { EventEncoder.write(event, into: &$0) }
            }
            return
        }
        toolObservations.removeAll()
        var index = 0
        // A closure literal passed straight to the tracker: a nested function passed as the
        // closure put its captured counter in a heap box, an allocation a payload.
        tracker.process(payload, parsed: parsed, rejection: rejection, digests: digests) { event, view in
            let located = secretLocations?.element(index)
            index += 1
            var (findings, secrets, mask) = detector.inspect(event, view: view, headers: headers, secretLocations: located)
            let unreported = detector.takeUnreported()
            if unreported.secrets > 0 { counters.add("secrets.unreported", unreported.secrets) }
            if unreported.content > 0 { counters.add("content.unreported", unreported.content) }
            for o in toolObservations { findings += detector.observe(o, serverName: event.serverName) }
            toolObservations.removeAll()
            // Copied only to be redacted: most messages carry no secret.
            func report(_ e: MCPEvent) {
                writeEvent(.mcp) { EventEncoder.write(e, into: &$0) }
                for f in findings {
                    raise(Alert(timestamp: e.timestamp, flowId: e.flowId, source: e.source, destination: e.destination,
                                appProto: e.appProto, finding: f, mcp: e))
                }
            }
            if secrets.isEmpty {
                report(event)
            } else {
                var e = event
                redact(&e, view: view, secrets: secrets, mask: mask)
                report(e)
            }
        }
    }

    // MARK: - alerts

    /// A flow carried MCP: its breaches are an analyst's business, and so are those of later
    /// connections to the same server.
    private func sawMCP(_ n: SessionNotes?, server: Endpoint) {
        n?.carriesMCP = true
        // Once per flow: the set only grows, so a later message of the flow would find its
        // server already there, or the set already full.
        if n?.serverNoted == true { return }
        n?.serverNoted = true
        if mcpServers.count < maxMCPServers { mcpServers.insert(server) }
    }

    /// Whether a connection carries MCP: a message was read on it, a request named an MCP
    /// header, its WebSocket subprotocol is `mcp`, it is JSON-RPC lines, or its server served MCP.
    private func carriesMCP(flowId: UInt64, server: Endpoint) -> Bool {
        notes[flowId]?.carriesMCP == true || mcpServers.contains(server)
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
                    appProto: appProto, finding: f))
    }

    /// Nothing a detector recognised as a secret is written unmasked: not in `--payloads`
    /// messages, nor in fields copied from the message (tool name, ids, session id).
    private func redact(_ e: inout MCPEvent, view: MCPMessageView, secrets: Set<String>, mask: SecretMask) {
        if config.mcp.includePayloads {
            if secrets.count > SecretDetector.maxReportedPerMessage {
                // Masking every string of the message against this many secrets costs their
                // product: a message this full of secrets is not written out at all.
                e.message = nil
                counters.add("redaction.payload_withheld")
            } else {
                e.message = PayloadRedaction.compactText(view.document, view.message.node, secrets: secrets)
            }
        }
        func clean(_ s: String?) -> String? { s.map { mask.apply($0) } }
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
        writeEvent(.alert) { EventEncoder.write(alert, into: &$0) }
    }

    // MARK: - output

    /// The `stats` event: the flow stages' figures with this stage's own.
    func writeStats(_ flows: FlowFigures, captureStats: CaptureStats?, outputStats: OutputStats?, time: Timestamp) {
        var s = StatsSnapshot(time: time)
        s.packets = flows.packets
        s.bytes = flows.bytes
        s.kernelDrops = captureStats?.dropped
        s.interfaceDrops = captureStats?.interfaceDropped
        s.flowsActive = flows.flowsActive
        s.flowsTotal = flows.flowsCreated
        s.flowsEvicted = flows.flowsEvicted
        s.flowsTimedOut = flows.flowsTimedOut
        s.reassemblyGaps = flows.gaps
        s.reassemblyGapBytes = flows.gapBytes
        s.reassemblyPendingBytes = flows.pendingBytes
        s.appBufferedBytes = flows.appBufferedBytes
        s.memoryBytes = ProcessMemory.residentBytes()
        for t in EventType.allCases where eventCounts[t.index] > 0 { s.events[t.rawValue] = eventCounts[t.index] }
        var all = flows.counters
        all.merge(tracker.counters)
        all.merge(counters)
        s.counters = all
        s.output = outputStats
        writeEvent(.stats) { EventEncoder.write(s, into: &$0) }
    }

    func flush() { sink.flush() }

    func reopenOutputs() { sink.reopen() }

    /// Every event goes out through here: `encode` writes its line into the stage's writer, which
    /// the sink reads in place.
    private func writeEvent(_ type: EventType, _ encode: (inout JSONWriter) -> Void) {
        writer.reset()
        encode(&writer)
        eventCounts[type.index] += 1
        eventsWritten += 1
        writer.withBytes { sink.write(bytes: $0, type: type.rawValue) }
    }
}

/// The contract's `event_type` values this stage writes.
enum EventType: String, CaseIterable {
    case mcp, alert, flow, stats

    var index: Int {
        switch self {
        case .mcp: 0
        case .alert: 1
        case .flow: 2
        case .stats: 3
        }
    }
}

/// A payload made ready by a worker thread: the parse the tracker would do, each message's
/// `params_sha256`, and where each message's secrets are (the stateless part of detection).
/// Done there, the work is off the session stage's thread, which every message goes through.
struct PreparedPayload {
    var parsed: JSONRPCParseResult?
    var rejection: JSONError?
    /// One per message of `parsed`, in order; empty when detection is off.
    var secrets: PerMessage<SecretLocations>
    /// `MCPTracker.bodyDigest` of each message of `parsed`, in order.
    var digests: PerMessage<SHA256Value?>
}

/// What the session stage decides about one open flow.
final class SessionNotes {
    var alerted = false
    var anomalies: Set<String> = []
    /// MCP was seen on this connection (a message, an MCP header, the `mcp` subprotocol).
    var carriesMCP = false
    /// The flow's server was offered to `mcpServers` (on its first MCP message).
    var serverNoted = false
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
