import SonarCore
import SonarDecode

/// The symmetric 5-tuple: the same key for both directions of a connection.
public struct FlowKey: Hashable, Sendable {
    public let low: Endpoint
    public let high: Endpoint
    public let transport: TransportProtocol

    public init(_ a: Endpoint, _ b: Endpoint, transport: TransportProtocol) {
        if FlowKey.precedes(a, b) { low = a; high = b } else { low = b; high = a }
        self.transport = transport
    }

    /// Looked up on every packet: the addresses and ports fed to the hasher as a few words,
    /// not field by field (the derived hash made a dozen calls). Equal keys feed equal words.
    public func hash(into hasher: inout Hasher) {
        switch (low.address, high.address) {
        case (.v4(let a), .v4(let b)):
            hasher.combine(UInt64(a) << 32 | UInt64(b))
        case (.v4(let a), .v6(let bh, let bl)):
            hasher.combine(UInt64(a)); hasher.combine(bh); hasher.combine(bl)
        case (.v6(let ah, let al), .v4(let b)):
            hasher.combine(ah); hasher.combine(al); hasher.combine(UInt64(b))
        case (.v6(let ah, let al), .v6(let bh, let bl)):
            hasher.combine(ah); hasher.combine(al); hasher.combine(bh); hasher.combine(bl)
        }
        hasher.combine(UInt64(low.port) << 24 | UInt64(high.port) << 8 | UInt64(transport.rawValue))
    }

    private static func precedes(_ a: Endpoint, _ b: Endpoint) -> Bool {
        switch (a.address, b.address) {
        case (.v4(let x), .v4(let y)) where x != y: return x < y
        case (.v6(let xh, let xl), .v6(let yh, let yl)) where xh != yh || xl != yl: return (xh, xl) < (yh, yl)
        case (.v4, .v6): return true
        case (.v6, .v4): return false
        default: return a.port < b.port
        }
    }
}

/// Flow table settings. Time is packet time.
public struct FlowConfig: Sendable {
    public var maxFlows = 500_000
    /// Idle timeout of a connection whose handshake was not seen complete, or a UDP pair.
    public var newTimeoutSeconds: Int64 = 60
    /// Idle timeout of an established connection (long-lived SSE streams stay open for minutes).
    public var establishedTimeoutSeconds: Int64 = 600
    /// How long a closed connection is kept, so late ACKs and retransmissions do not start a new flow.
    public var closedTimeoutSeconds: Int64 = 10
    /// Evictions raise at most one `protocol.flow-table-full` alert per this many seconds of
    /// packet time (a SYN flood evicts on every packet: one alert, with the count, not millions).
    public var evictionAlertIntervalSeconds: Int64 = 60
    public var reassembly = ReassemblyLimits()
    public init() {}
}

/// One TCP connection or UDP address pair.
///
/// The fields read and written on every packet are stored under `@exclusivity(unchecked)` and
/// reached through accessors: each access is one load or store that runs no other code, so no
/// two can overlap and Swift's run-time check (150-200 instructions each, about ten a packet)
/// can never fire. The accessors are there because the attribute is honoured only inside the
/// module that declares the field: the engine, in another module, would check a public stored
/// field on every access. `streams`, held across the reassembler's callbacks, keeps the check.
public final class Flow {
    // Least-recently-used list links, owned by the table, first so that they share the object
    // header's cache line (a packet's unlink and link touch two neighbours). Moved on every
    // packet. Not counted references: the table's dictionary holds every linked flow, and a
    // flow is unlinked before it leaves the dictionary (`FlowTable.remove`), so a link never
    // outlives its flow; counted, they cost a retain and a release of each neighbour per packet.
    // Unchecked like the plain fields: each access is one load or store, so none can overlap.
    @exclusivity(unchecked) fileprivate var older: Unmanaged<Flow>?
    @exclusivity(unchecked) fileprivate var newer: Unmanaged<Flow>?
    public let id: UInt64
    public let key: FlowKey
    /// The side that opened the connection (sent the SYN), or the one judged the client.
    public let client: Endpoint
    public let server: Endpoint
    public var transport: TransportProtocol { key.transport }
    public let firstSeen: Timestamp
    public internal(set) var lastSeen: Timestamp { get { storedLastSeen } set { storedLastSeen = newValue } }
    // Inline, not arrays: three heap allocations less per flow (a SYN flood fills the table).
    public internal(set) var packets: InlineArray<2, UInt64> { get { storedPackets } set { storedPackets = newValue } }
    public internal(set) var bytes: InlineArray<2, UInt64> { get { storedBytes } set { storedBytes = newValue } }
    /// One reassembler per direction, indexed by `Direction.index`.
    public var streams: InlineArray<2, TCPReassembler> = [TCPReassembler(), TCPReassembler()]
    /// Whatever the application layer keeps for this flow.
    public var app: AnyObject? { get { storedApp } set { storedApp = newValue } }
    /// What the engine notes of this flow for its whole life (its `flow` event): reached from
    /// the flow on the per-packet path instead of through a table keyed by flow id.
    public var notes: AnyObject? { get { storedNotes } set { storedNotes = newValue } }
    /// Nothing here interests the sensor: later packets cost only the table lookup.
    public var bypassed: Bool { get { storedBypassed } set { storedBypassed = newValue } }
    public internal(set) var handshakeSeen: Bool { get { storedHandshakeSeen } set { storedHandshakeSeen = newValue } }
    public internal(set) var closed: Bool { get { storedClosed } set { storedClosed = newValue } }
    public internal(set) var closedAt: Timestamp? { get { storedClosedAt } set { storedClosedAt = newValue } }
    /// A packet of this flow carried FIN.
    public internal(set) var finSeen: Bool { get { storedFinSeen } set { storedFinSeen = newValue } }
    /// The first IP TTL seen in each direction, by `Direction.index` (0: none yet; the engine
    /// keeps a TTL of 0 as 1). Set and read by the engine's TTL check on every packet.
    public var firstTTL: InlineArray<2, UInt8> { get { storedFirstTTL } set { storedFirstTTL = newValue } }
    /// Position in the packet timeline (set by the engine) of the flow's first and latest packet:
    /// with several workers, flows that end together are put in the order one table would end them.
    public var firstSeq: UInt64 { get { storedFirstSeq } set { storedFirstSeq = newValue } }
    public var lastSeq: UInt64 { get { storedLastSeq } set { storedLastSeq = newValue } }

    @exclusivity(unchecked) private var storedLastSeen: Timestamp
    @exclusivity(unchecked) private var storedPackets: InlineArray<2, UInt64> = [0, 0]
    @exclusivity(unchecked) private var storedBytes: InlineArray<2, UInt64> = [0, 0]
    // The two objects: assigning one releases the old object, whose deinit never reaches back
    // to this flow, so these accesses cannot overlap either.
    @exclusivity(unchecked) private var storedApp: AnyObject?
    @exclusivity(unchecked) private var storedNotes: AnyObject?
    @exclusivity(unchecked) private var storedBypassed = false
    @exclusivity(unchecked) private var storedHandshakeSeen = false
    @exclusivity(unchecked) private var storedClosed = false
    @exclusivity(unchecked) private var storedClosedAt: Timestamp?
    @exclusivity(unchecked) private var storedFinSeen = false
    @exclusivity(unchecked) private var storedFirstTTL: InlineArray<2, UInt8> = [0, 0]
    @exclusivity(unchecked) private var storedFirstSeq: UInt64 = 0
    @exclusivity(unchecked) private var storedLastSeq: UInt64 = 0

    init(id: UInt64, key: FlowKey, client: Endpoint, server: Endpoint, time: Timestamp) {
        self.id = id
        self.key = key
        self.client = client
        self.server = server
        self.firstSeen = time
        self.storedLastSeen = time
    }

    public func direction(from source: Endpoint) -> Direction {
        source == client ? .toServer : .toClient
    }
}

/// Why a flow left the table.
public enum FlowEndReason: String, Sendable {
    case closed, timeout, evicted, shutdown
}

/// Flows by symmetric 5-tuple, with packet-clock timeouts and a hard cap on their number.
/// Flows that leave the table are queued in `ended` for the engine to finish (flush their streams).
public final class FlowTable {
    public let config: FlowConfig
    // Unchecked like the fields below: each access is one lookup, insertion or removal of the
    // standard library's, whose only code of ours is `FlowKey`'s hash and equality and the
    // deinit of a removed flow (which frees its parsers and never reaches this table).
    @exclusivity(unchecked) private var flows: [FlowKey: Flow] = [:]
    @exclusivity(unchecked) private var nextID: UInt64 = 1
    /// Ends of the least-recently-used list; not counted, as the links (see `Flow.older`).
    @exclusivity(unchecked) private var oldest: Unmanaged<Flow>?
    @exclusivity(unchecked) private var newest: Unmanaged<Flow>?
    @exclusivity(unchecked) public private(set) var flowsCreated: UInt64 = 0
    @exclusivity(unchecked) public private(set) var flowsEvicted: UInt64 = 0
    @exclusivity(unchecked) public private(set) var flowsTimedOut: UInt64 = 0
    /// Flows that left the table since the engine last looked, with the reason.
    /// Unchecked like the flow's fields, and reached from the engine through `hasEnded` and
    /// `takeEnded()` for the same reason: read, appended to and emptied, never held across a call.
    @exclusivity(unchecked) public private(set) var ended: [(Flow, FlowEndReason)] = []

    /// Whether flows left the table since the last `takeEnded()` (asked on every packet).
    public var hasEnded: Bool { !ended.isEmpty }

    /// The flows that left the table, oldest first; the queue is empty afterwards.
    public func takeEnded() -> [(Flow, FlowEndReason)] {
        let out = ended
        ended.removeAll()
        return out
    }
    public var reassembly: ReassemblyContext
    @exclusivity(unchecked) private var lastSweep: Timestamp?
    /// The latest time the table was given (`expire`): what activity is stamped with.
    @exclusivity(unchecked) private var clock = Timestamp.zero

    public init(config: FlowConfig = .init()) {
        self.config = config
        self.reassembly = ReassemblyContext(limits: config.reassembly)
    }

    public var count: Int { flows.count }

    /// The flow of a decoded packet, created on first sight, and the packet's direction in it.
    public func flow(for packet: DecodedPacket) -> (Flow, Direction) {
        let src = Endpoint(address: packet.src, port: packet.srcPort)
        let dst = Endpoint(address: packet.dst, port: packet.dstPort)
        let key = FlowKey(src, dst, transport: packet.transport)
        if let flow = flows[key] {
            touch(flow, time: packet.timestamp)
            return (flow, flow.direction(from: src))
        }
        let (client, server) = FlowTable.roles(packet: packet, src: src, dst: dst)
        if flows.count >= config.maxFlows, let victim = oldest?.takeUnretainedValue() {
            flowsEvicted += 1
            remove(victim, reason: .evicted)
        }
        let flow = Flow(id: nextID, key: key, client: client, server: server, time: packet.timestamp)
        if clock > flow.lastSeen { flow.lastSeen = clock }
        nextID += 1
        flowsCreated += 1
        flows[key] = flow
        link(flow)
        return (flow, flow.direction(from: src))
    }

    /// Who is the client: the SYN's sender; else the SYN-ACK's receiver; else (picked up mid-stream)
    /// the side with the higher port, since servers listen on the lower, fixed ports.
    static func roles(packet: DecodedPacket, src: Endpoint, dst: Endpoint) -> (Endpoint, Endpoint) {
        if packet.transport == .tcp && packet.tcp.flags.contains(.syn) {
            return packet.tcp.flags.contains(.ack) ? (dst, src) : (src, dst)
        }
        if src.port != dst.port { return src.port > dst.port ? (src, dst) : (dst, src) }
        return (src, dst)
    }

    /// Notes TCP connection state from a packet of `flow`.
    public func noteTCP(_ flow: Flow, flags: TCPFlags, time: Timestamp) {
        if flags.contains(.syn) && flags.contains(.ack) { flow.handshakeSeen = true }
        // A direction finishes only once its FIN is reached (an accepted RST closes the flow
        // itself): until a FIN was seen the reassemblers are not read, a checked access each.
        if flags.contains(.fin) { flow.finSeen = true }
        if flow.finSeen && !flow.closed && flow.streams[0].finished && flow.streams[1].finished {
            flow.closed = true
            flow.closedAt = time
        }
    }

    /// Ends a flow now (a new connection reusing its 5-tuple after it closed).
    public func end(_ flow: Flow) { remove(flow, reason: .closed) }

    public func markClosed(_ flow: Flow, time: Timestamp) {
        if !flow.closed { flow.closed = true; flow.closedAt = time }
    }

    /// Ends flows idle past their timeout. Runs at most once per second of packet time.
    public func expire(now: Timestamp) {
        if now > clock { clock = now }
        if let last = lastSweep, now.microseconds(since: last) < 1_000_000 { return }
        lastSweep = now
        let shortest = min(config.newTimeoutSeconds, config.establishedTimeoutSeconds, config.closedTimeoutSeconds)
        var cursor = oldest?.takeUnretainedValue()
        while let flow = cursor {
            let idle = now.microseconds(since: flow.lastSeen) / 1_000_000
            if idle < shortest { break } // everything newer is less idle still
            cursor = flow.newer?.takeUnretainedValue()
            let timeout = flow.closed ? config.closedTimeoutSeconds
                : (flow.handshakeSeen || flow.packets[0] > 0 && flow.packets[1] > 0) ? config.establishedTimeoutSeconds
                : config.newTimeoutSeconds
            if idle >= timeout {
                if !flow.closed { flowsTimedOut += 1 }
                remove(flow, reason: flow.closed ? .closed : .timeout)
            }
        }
    }

    /// Ends every flow (end of input, shutdown), oldest first by id.
    public func drainAll() {
        let all = flows.values.sorted { $0.id < $1.id }
        for f in all { remove(f, reason: f.closed ? .closed : .shutdown) }
    }

    public func count(packet bytes: Int, flow: Flow, direction: Direction) {
        flow.packets[direction.index] += 1
        flow.bytes[direction.index] += UInt64(bytes)
    }

    // MARK: - LRU list

    private func touch(_ flow: Flow, time: Timestamp) {
        // Activity is stamped with the table's clock (the latest time seen), not the packet's own
        // time: a packet stamped in the past (files read out of order, a clock step) still makes
        // its flow the most recent, so the list stays sorted by `lastSeen` and `expire` can stop
        // at the first flow not yet idle, whatever other flows the table holds.
        let stamp = time > clock ? time : clock
        if stamp > flow.lastSeen { flow.lastSeen = stamp }
        guard newest?.toOpaque() != Unmanaged.passUnretained(flow).toOpaque() else { return }
        unlink(flow)
        link(flow)
    }

    private func link(_ flow: Flow) {
        let me = Unmanaged.passUnretained(flow)
        flow.older = newest
        flow.newer = nil
        if let n = newest { n._withUnsafeGuaranteedRef { $0.newer = me } }
        newest = me
        if oldest == nil { oldest = me }
    }

    private func unlink(_ flow: Flow) {
        let o = flow.older, n = flow.newer
        if let o { o._withUnsafeGuaranteedRef { $0.newer = n } } else { oldest = n }
        if let n { n._withUnsafeGuaranteedRef { $0.older = o } } else { newest = o }
        flow.older = nil
        flow.newer = nil
    }

    private func remove(_ flow: Flow, reason: FlowEndReason) {
        unlink(flow)
        flows[flow.key] = nil
        ended.append((flow, reason))
    }
}
