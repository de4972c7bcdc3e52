import CHints
import SonarCore
import SonarDecode

/// The symmetric 5-tuple: the same key for both directions of a connection.
public struct FlowKey: Equatable, Sendable {
    public let low: Endpoint
    public let high: Endpoint
    public let transport: TransportProtocol

    public init(_ a: Endpoint, _ b: Endpoint, transport: TransportProtocol) {
        if FlowKey.precedes(a, b) { low = a; high = b } else { low = b; high = a }
        self.transport = transport
    }

    /// The flow index's hash: the addresses and ports as a few words, each mixed in by a
    /// multiply, then MurmurHash3's 64-bit finaliser. `seed` is the table's random key: without
    /// it nobody outside can choose tuples that collide. Equal keys give equal hashes. (The
    /// parallel engine shards flows among its workers by it too, under a key of its own.)
    public func hashed(seed: UInt64) -> UInt64 {
        var h = seed
        func add(_ word: UInt64) {
            h = (h ^ word) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 32
        }
        switch (low.address, high.address) {
        case (.v4(let a), .v4(let b)):
            add(UInt64(a) << 32 | UInt64(b))
        case (.v4(let a), .v6(let bh, let bl)):
            add(UInt64(a)); add(bh); add(bl)
        case (.v6(let ah, let al), .v4(let b)):
            add(ah); add(al); add(UInt64(b))
        case (.v6(let ah, let al), .v6(let bh, let bl)):
            add(ah); add(al); add(bh); add(bl)
        }
        add(UInt64(low.port) << 24 | UInt64(high.port) << 8 | UInt64(transport.rawValue))
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
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
/// field on every access. `streams`, held across the reassembler's callbacks, is unchecked only
/// through `FlowTable.withStreams(of:_:)` (see there); elsewhere it keeps the check.
public final class Flow {
    // Layout: what every packet reads comes first, in two cache lines: the key (the lookup
    // compares it) alone in the object's first line, then the per-packet state in the second
    // (slot, flags, TTLs, last activity, counts, timeline position). Declaration order is the
    // layout; spread over five lines, each packet missed on several of them. The application's
    // reference and the two reassemblers follow; what is read per message or per flow comes last.
    public let key: FlowKey
    /// Where the table keeps this flow (its LRU links and flow list); set by the table.
    /// Unchecked like the plain fields below: each access is one load or store.
    @exclusivity(unchecked) fileprivate var slot: Int32 = -1
    @exclusivity(unchecked) private var storedBypassed = false
    @exclusivity(unchecked) private var storedHandshakeSeen = false
    @exclusivity(unchecked) private var storedClosed = false
    @exclusivity(unchecked) private var storedFinSeen = false
    /// Which end of the key is the client: `direction(from:)` reads the key, not `client`.
    private let clientIsLow: Bool
    private let clientIsHigh: Bool
    @exclusivity(unchecked) private var storedFirstTTL: InlineArray<2, UInt8> = [0, 0]
    @exclusivity(unchecked) private var storedLastSeen: Timestamp
    @exclusivity(unchecked) private var storedPackets: InlineArray<2, UInt64> = [0, 0]
    @exclusivity(unchecked) private var storedBytes: InlineArray<2, UInt64> = [0, 0]
    @exclusivity(unchecked) private var storedLastSeq: UInt64 = 0
    // The two objects: assigning one releases the old object, whose deinit never reaches back
    // to this flow, so these accesses cannot overlap either.
    @exclusivity(unchecked) private var storedApp: AnyObject?
    /// One reassembler per direction, indexed by `Direction.index`. Unchecked in this module:
    /// for `FlowTable.withStreams(of:_:)` (see there) and the table's reads of `finished`;
    /// accesses from other modules keep the run-time check. Right after the application's
    /// reference: a packet reads its own direction's reassembler and the head of the other's
    /// (its acknowledgment), which then share lines with the per-packet state instead of
    /// following the fields read only per message or per flow.
    @exclusivity(unchecked) public var streams: InlineArray<2, TCPReassembler> = [TCPReassembler(), TCPReassembler()]
    @exclusivity(unchecked) private var storedNotes: AnyObject?
    public let id: UInt64
    public let firstSeen: Timestamp
    @exclusivity(unchecked) private var storedClosedAt: Timestamp?
    @exclusivity(unchecked) private var storedFirstSeq: UInt64 = 0

    public var transport: TransportProtocol { key.transport }
    /// The side that opened the connection (sent the SYN), or the one judged the client: one of
    /// the key's ends, read from it. Stored beside the key as well, the two endpoints took 48
    /// bytes of every flow and put it in jemalloc's 448-byte class instead of the 384-byte one.
    public var client: Endpoint { clientIsLow ? key.low : key.high }
    /// The other end of the key.
    public var server: Endpoint { clientIsLow ? key.high : key.low }
    public internal(set) var lastSeen: Timestamp { get { storedLastSeen } set { storedLastSeen = newValue } }
    // Inline, not arrays: three heap allocations less per flow (a SYN flood fills the table).
    public internal(set) var packets: InlineArray<2, UInt64> { get { storedPackets } set { storedPackets = newValue } }
    public internal(set) var bytes: InlineArray<2, UInt64> { get { storedBytes } set { storedBytes = newValue } }
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

    /// `client` is one of the key's ends (the other is the server).
    init(id: UInt64, key: FlowKey, client: Endpoint, time: Timestamp) {
        self.id = id
        self.key = key
        self.clientIsLow = client == key.low
        self.clientIsHigh = client == key.high
        self.firstSeen = time
        self.storedLastSeen = time
    }

    /// `.toServer` for what `client` sends. The client is one of the key's ends: compared with
    /// the key, which a packet has read already, rather than with `client`.
    public func direction(from source: Endpoint) -> Direction {
        (clientIsLow && source == key.low) || (clientIsHigh && source == key.high) ? .toServer : .toClient
    }
}

/// Why a flow left the table.
public enum FlowEndReason: String, Sendable {
    case closed, timeout, evicted, shutdown
}

/// Flows by symmetric 5-tuple, with packet-clock timeouts and a hard cap on their number.
/// Flows that leave the table are queued in `ended` for the engine to finish (flush their streams).
///
/// Every flow has a slot, a small integer reused after the flow leaves. Three arrays are indexed
/// by it, all compact, so the per-packet work touches few cache lines besides the flow itself:
/// `flows` (the table's reference), `links` (the least-recently-used list, 8 bytes a flow: moving
/// a flow to the front writes two neighbours' links here, not two other flows' objects), and the
/// hash index's buckets name slots.
public final class FlowTable {
    public let config: FlowConfig
    /// The least-recently-used list's links of one slot (`-1`: none).
    private struct Link { var older: Int32 = -1; var newer: Int32 = -1 }
    // Each access below is one load, store, append or removal on an array, or a lookup in the
    // index, whose only code of ours compares a flow's key; none runs while another lasts, so
    // the run-time exclusivity check (about 200 instructions each) is turned off.
    @exclusivity(unchecked) private var index: FlowIndex
    @exclusivity(unchecked) private var flows: [Flow?] = []
    @exclusivity(unchecked) private var links: [Link] = []
    @exclusivity(unchecked) private var freeSlots: [Int32] = []
    @exclusivity(unchecked) private var live = 0
    @exclusivity(unchecked) private var nextID: UInt64 = 1
    /// Ends of the least-recently-used list (`-1`: empty).
    @exclusivity(unchecked) private var oldest: Int32 = -1
    @exclusivity(unchecked) private var newest: Int32 = -1
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
    /// What all reassemblers of the table share (limits, totals, counters, notices). Unchecked
    /// in this module, for `withStreams(of:_:)`; accesses from other modules keep the check.
    @exclusivity(unchecked) public var reassembly: ReassemblyContext
    @exclusivity(unchecked) private var lastSweep: Timestamp?
    /// The latest time the table was given (`expire`): what activity is stamped with.
    @exclusivity(unchecked) private var clock = Timestamp.zero

    public init(config: FlowConfig = .init()) {
        self.config = config
        self.reassembly = ReassemblyContext(limits: config.reassembly)
        var random = SystemRandomNumberGenerator()
        self.index = FlowIndex(seed: random.next())
    }

    public var count: Int { live }

    /// `body` with `flow`'s two reassemblers and the table's reassembly context: the segment and
    /// the acknowledgment of one TCP packet, every packet. The two accesses skip Swift's run-time
    /// exclusivity check (about 65 instructions each, a thread-local set of open accesses), which
    /// is sound because nothing `body` reaches opens them again: the reassemblers' callbacks
    /// deliver bytes to the application parsers and the session stage, which know neither the
    /// flow's reassemblers nor this table; the engine reads the context's notices only after
    /// `body` returns. A new caller must keep that true.
    public func withStreams<Result>(of flow: Flow,
                                    _ body: (inout InlineArray<2, TCPReassembler>, inout ReassemblyContext) -> Result) -> Result {
        body(&flow.streams, &reassembly)
    }

    /// The flow of a decoded packet, created on first sight, and the packet's direction in it.
    public func flow(for packet: DecodedPacket) -> (Flow, Direction) {
        let src = Endpoint(address: packet.src, port: packet.srcPort)
        let dst = Endpoint(address: packet.dst, port: packet.dstPort)
        let key = FlowKey(src, dst, transport: packet.transport)
        let hash = index.hash(key)
        if let flow = index.find(hash, key) {
            touch(flow, time: packet.timestamp)
            return (flow, flow.direction(from: src))
        }
        let (client, _) = FlowTable.roles(packet: packet, src: src, dst: dst)
        if live >= config.maxFlows, oldest >= 0, let victim = flows[Int(oldest)] {
            flowsEvicted += 1
            remove(victim, reason: .evicted)
        }
        let flow = Flow(id: nextID, key: key, client: client, time: packet.timestamp)
        if clock > flow.lastSeen { flow.lastSeen = clock }
        nextID += 1
        flowsCreated += 1
        let slot: Int32
        if let free = freeSlots.popLast() {
            slot = free
            flows[Int(slot)] = flow
        } else {
            slot = Int32(flows.count)
            flows.append(flow)
            links.append(Link())
        }
        flow.slot = slot
        live += 1
        index.insert(hash, flow)
        link(slot)
        return (flow, flow.direction(from: src))
    }

    // MARK: - Fetching ahead

    /// The first step of fetching a coming packet's flow before its turn: the index's bucket
    /// for it is asked of memory. Returns the hash, for `fetchFlow(hash:)` a packet later, when
    /// the bucket has come. A packet's lookup otherwise waited on two misses, the bucket and
    /// then the flow, about 6 % of a one-worker run (docs/performance.md, "Twenty-seventh round").
    public func fetchBucket(_ t: FlowTuple) -> UInt64 {
        let key = FlowKey(Endpoint(address: t.src, port: t.srcPort), Endpoint(address: t.dst, port: t.dstPort),
                          transport: t.transport)
        let hash = index.hash(key)
        index.fetchBucket(hash)
        return hash
    }

    /// The second step: the flow in the bucket of `hash`, if any, asked of memory.
    public func fetchFlow(hash: UInt64) { index.fetchFlow(hash) }

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
        var cursor = oldest
        while cursor >= 0, let flow = flows[Int(cursor)] {
            let idle = now.microseconds(since: flow.lastSeen) / 1_000_000
            if idle < shortest { break } // everything newer is less idle still
            cursor = links[Int(cursor)].newer
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
        let all = flows.compactMap { $0 }.sorted { $0.id < $1.id }
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
        let slot = flow.slot
        guard newest != slot else { return }
        // One uniqueness check of the links for the move, not one a write (four).
        links.withUnsafeMutableBufferPointer { l in
            unlink(slot, in: l)
            link(slot, in: l)
        }
    }

    private func link(_ slot: Int32) {
        links.withUnsafeMutableBufferPointer { link(slot, in: $0) }
    }

    private func unlink(_ slot: Int32) {
        links.withUnsafeMutableBufferPointer { unlink(slot, in: $0) }
    }

    // The slots are those of live flows, or of the list's ends: all below `links.count`.
    private func link(_ slot: Int32, in links: UnsafeMutableBufferPointer<Link>) {
        links[Int(slot)] = Link(older: newest, newer: -1)
        if newest >= 0 { links[Int(newest)].newer = slot }
        newest = slot
        if oldest < 0 { oldest = slot }
    }

    private func unlink(_ slot: Int32, in links: UnsafeMutableBufferPointer<Link>) {
        let l = links[Int(slot)]
        if l.older >= 0 { links[Int(l.older)].newer = l.newer } else { oldest = l.newer }
        if l.newer >= 0 { links[Int(l.newer)].older = l.older } else { newest = l.older }
        links[Int(slot)] = Link()
    }

    private func remove(_ flow: Flow, reason: FlowEndReason) {
        let slot = flow.slot
        guard slot >= 0, flows[Int(slot)] === flow else { return }
        unlink(slot)
        index.remove(index.hash(flow.key), flow)
        flows[Int(slot)] = nil
        freeSlots.append(slot)
        flow.slot = -1
        live -= 1
        ended.append((flow, reason))
    }
}

/// The flow table's map from key to flow: open addressing with linear probing over one array of
/// 16-byte buckets (the key's hash and the flow, not counted: the table's `flows` holds it, and
/// removes it from here first), at most half full. It replaced a `Dictionary<FlowKey, Flow>`,
/// whose lookup hashed with SipHash and read a bitmap word, a stored key of about 40 bytes and a
/// value, often three cache misses; here it is one bucket, and the flow, which the packet reads
/// anyway, confirms the key. Removal shifts the following buckets back (no tombstones), so a
/// lookup never walks past more than its cluster (`LinearProbing`, shared with the tracker's `PendingIndex`).
struct FlowIndex: ~Copyable {
    private struct Bucket: ProbedBucket {
        var hash: UInt64 = 0
        var flow: Unmanaged<Flow>? = nil
        var isOccupied: Bool { flow != nil }
    }
    private var buckets: LinearProbing<Bucket>
    private let seed: UInt64

    init(seed: UInt64, capacity: Int = 64) {
        self.seed = seed
        buckets = LinearProbing(capacity: capacity)
    }

    func hash(_ key: FlowKey) -> UInt64 { key.hashed(seed: seed) }

    /// The flow of `key`. Inlined, with the probe below, into every packet's lookup (about 35
    /// instructions a packet of calls and closure context).
    @inline(__always)
    func find(_ hash: UInt64, _ key: FlowKey) -> Flow? {
        find(hash) { $0.key == key }
    }

    /// The first flow with this hash that `matches`.
    @inline(__always)
    func find(_ hash: UInt64, where matches: (Flow) -> Bool) -> Flow? {
        var i = Int(truncatingIfNeeded: hash)
        while let flow = buckets[i].flow {
            if buckets[i].hash == hash {
                let f = flow.takeUnretainedValue()
                if matches(f) { return f }
            }
            i &+= 1
        }
        return nil
    }

    /// Asks for the home bucket of `hash`.
    func fetchBucket(_ hash: UInt64) {
        if let p = buckets.address(of: Int(truncatingIfNeeded: hash)) { sonar_prefetch(p) }
    }

    /// Asks for the flow of the first bucket of `hash`'s cluster with that hash (among the first
    /// few: a hint need not be complete): the object's first 384 bytes (its jemalloc block).
    /// The buckets are walked here, not through `find`, which hands the flow out retained: two
    /// atomic operations a packet for a hint.
    func fetchFlow(_ hash: UInt64) {
        var i = Int(truncatingIfNeeded: hash)
        for _ in 0..<4 {
            guard let flow = buckets[i].flow else { return }
            if buckets[i].hash == hash {
                sonar_prefetch_range(UnsafeRawPointer(flow.toOpaque()), 384)
                return
            }
            i &+= 1
        }
    }

    mutating func insert(_ hash: UInt64, _ flow: Flow) {
        buckets.insert(Bucket(hash: hash, flow: Unmanaged.passUnretained(flow)))
    }

    mutating func remove(_ hash: UInt64, _ flow: Flow) {
        let target = Unmanaged.passUnretained(flow).toOpaque()
        guard let i = buckets.index(of: hash, where: { $0.flow?.toOpaque() == target }) else { return }
        buckets.remove(at: i)
    }
}
