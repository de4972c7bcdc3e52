import Dispatch
import SonarCapture
import SonarCore
import SonarDecode
import SonarDetect
import SonarFlow
import SonarMCP
import SonarOutput
import SonarProtocols
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The pipeline over several worker threads (`--workers N`).
///
/// The reading thread (the caller) decodes each packet and sends it to the worker that owns its
/// flow, chosen by a symmetric hash of the 5-tuple: both directions of a connection meet in one
/// worker. Each worker runs a `FlowStage` (flows, reassembly, HTTP, SSE, WebSocket, lines) on its
/// flows. What they find goes, in packet order, to one `SessionStage` thread: MCP state spans
/// connections (sessions, legacy SSE streams, a server's tools, DNS names), so it is not split.
///
/// The output is the one-worker output, event for event (the stats event's `memory_bytes` and
/// `app_buffered_bytes` aside: they measure what the allocator gave each thread): every worker sees every position of the
/// packet timeline (its own packets, and the times of the others'), so flows time out at the same
/// packet as in one table; the session stage runs the work of a batch in timeline order, flows
/// that end at the same position in the order one table ends them, and gives flows their public
/// ids in the order they started. Two things are per worker and so differ only under pressure:
/// the flow table's and the parser buffers' caps are divided among the workers.
public final class ParallelEngine: PacketPipeline {
    public private(set) var config: EngineConfig
    public let workerCount: Int
    public var outputStats: (() -> OutputStats)? {
        get { serial.outputStats }
        set { serial.outputStats = newValue } // guarded: the session thread reads it
    }
    @exclusivity(unchecked) public private(set) var now = Timestamp.zero
    public var eventsWritten: Int { serial.eventsWritten.load(ordering: .relaxed) }

    // Reading thread. Touched about six times a packet, so without run-time exclusivity
    // checks: only this thread uses them, and no access spans a call back into this class (the
    // decoder calls nothing of ours; a hand-over may block, but on another object).
    @exclusivity(unchecked) private var decoder: PacketDecoder
    @exclusivity(unchecked) private var packets: UInt64 = 0
    @exclusivity(unchecked) private var bytes: UInt64 = 0
    @exclusivity(unchecked) private var seq: UInt64 = 0
    @exclusivity(unchecked) private var batchFirstSeq: UInt64 = 1
    @exclusivity(unchecked) private var timeline: [Timestamp] = []
    @exclusivity(unchecked) private var items: [[WorkerItem]]
    @exclusivity(unchecked) private var payloads: [[UInt8]]
    @exclusivity(unchecked) private var payloadBytes = 0
    private let batchPackets: Int
    private let batchBytes: Int
    @exclusivity(unchecked) private var closed = false

    private let inputs: [HandOver<WorkerBatch>]
    private let outputs: [HandOver<WorkerOutput>]
    private let plans: HandOver<BatchPlan>
    private let workers: [Worker]
    private let serial: SerialStage
    private var threads: [pthread_t] = []

    /// `workers`: at least 2 (one worker is `Engine`). `batchPackets`: timeline positions per
    /// hand-over (fewer when `flush` is called, as live capture does). `partBytes`: a worker hands
    /// its work over early once it holds this much (messages and their parses). Nil when the
    /// system refuses a thread.
    public init?(config: EngineConfig, sink: EventSink, workers: Int, batchPackets: Int = 1024,
                 partBytes: Int = 2 << 20) {
        let n = max(2, workers)
        self.config = config
        self.workerCount = n
        self.decoder = PacketDecoder(limits: config.decode)
        self.batchPackets = max(1, batchPackets)
        self.batchBytes = 4 << 20
        self.items = Array(repeating: [], count: n)
        self.payloads = Array(repeating: [], count: n)
        // Caps that bound the whole pipeline are shared out among the workers.
        var share = config
        share.flow.maxFlows = max(1, config.flow.maxFlows / n)
        share.flow.reassembly.maxPendingBytesTotal = max(1, config.flow.reassembly.maxPendingBytesTotal / n)
        share.flow.reassembly.maxRecentBytesTotal = max(1, config.flow.reassembly.maxRecentBytesTotal / n)
        share.maxAppBufferedBytesTotal = max(1, config.maxAppBufferedBytesTotal / n)
        let session = SessionStage(config: config, sink: sink, workers: n)
        // Sixteen deep each way, and room for the plans of all batches in flight: four deep, a
        // worker ahead of the other waited on its full output queue while the session thread
        // waited for the other's batch, and the cores sat idle (docs/performance.md).
        let inputs = (0..<n).map { _ in HandOver<WorkerBatch>(capacity: 16) }
        let outputs = (0..<n).map { _ in HandOver<WorkerOutput>(capacity: 16) }
        let plans = HandOver<BatchPlan>(capacity: 64)
        self.inputs = inputs
        self.outputs = outputs
        self.plans = plans
        self.workers = (0..<n).map { Worker(config: share, input: inputs[$0], output: outputs[$0], partBytes: partBytes) }
        self.serial = SerialStage(session: session, plans: plans, outputs: outputs)
        for w in self.workers {
            guard let t = startThread(w.run) else { abandon(); return nil }
            threads.append(t)
        }
        guard let t = startThread(serial.run) else { abandon(); return nil }
        threads.append(t)
    }

    /// A thread could not be started: let those that run end, and give up.
    private func abandon() {
        // The session thread starts last: when any thread failed, it is not running.
        dispatch(.close)
        closed = true
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    deinit { close() }

    /// The number of cores online (at least 1, at most 64).
    public static var defaultWorkers: Int {
        let n = sysconf(Int32(_SC_NPROCESSORS_ONLN))
        return n < 1 ? 1 : min(Int(n), 64)
    }

    // MARK: - PacketPipeline (reading thread)

    /// The reader thread does not look flows up: the workers fetch ahead from their batches.
    public func anticipate(_ afterNext: UnsafeRawBufferPointer?, linkType: Int32) {}
    public var anticipates: Bool { false }

    public func process(_ packet: CapturedPacket, linkType: Int32) {
        guard !closed else { return }
        packets += 1
        bytes += UInt64(packet.wireLength)
        if packet.timestamp > now { now = packet.timestamp }
        seq &+= 1
        timeline.append(packet.timestamp)
        if let p = decoder.decode(packet.bytes, wireLength: packet.wireLength, linkType: linkType,
                                  timestamp: packet.timestamp) {
            let w = ParallelEngine.worker(for: p, of: workerCount)
            var header = p
            header.payload = UnsafeRawBufferPointer(start: nil, count: 0)
            items[w].append(WorkerItem(index: timeline.count - 1, packet: header, payloadStart: payloads[w].count,
                                       payloadCount: p.payload.count, wireLength: packet.wireLength))
            payloads[w].append(contentsOf: p.payload)
            payloadBytes += p.payload.count
        }
        if timeline.count >= batchPackets || payloadBytes >= batchBytes { dispatch(.none) }
    }

    public func advanceClock(to time: Timestamp) {
        guard !closed, time > now else { return }
        now = time
        seq &+= 1
        timeline.append(time) // a position with no packet: every worker moves its clock
        dispatch(.none)
    }

    public func writeStats(captureStats: CaptureStats?, time: Timestamp?) {
        guard !closed else { return }
        dispatch(.stats(captureStats, time ?? now))
    }

    public func finishFlows() {
        guard !closed else { return }
        seq &+= 1
        dispatch(.finishFlows(seq))
    }

    /// End of input: finish every flow, write the `stats` event, wait for the threads.
    public func finish() {
        finishFlows()
        writeStats(captureStats: nil, time: nil)
        close()
    }

    public func flush() {
        guard !closed else { return }
        dispatch(.flush)
    }

    public func reopenOutputs() {
        guard !closed else { return }
        dispatch(.reopen)
    }

    public func reloadDetection(_ new: DetectionConfig) -> Bool {
        guard !closed, config.detection != nil else { return false }
        config.detection = new
        dispatch(.reload(new))
        return true
    }

    /// CPU time each thread used, once `close` (or `finish`) has waited for them: the workers'
    /// in order, and the session thread's. The reading thread is the caller's. Zero before.
    /// With the reader's, where a run's time went between the threads (`mcpsonar bench`).
    public var threadCPUSeconds: (workers: [Double], session: Double) {
        (workers.map { Double($0.cpuNanoseconds.load(ordering: .relaxed)) / 1e9 },
         Double(serial.cpuNanoseconds.load(ordering: .relaxed)) / 1e9)
    }

    /// Everything handed over is processed and written; the threads end. Idempotent.
    public func close() {
        guard !closed else { return }
        dispatch(.close)
        closed = true
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    // MARK: - hand-over

    private func dispatch(_ command: BatchCommand) {
        var readerFigures: FlowFigures?
        if case .stats = command {
            var f = FlowFigures()
            f.packets = packets
            f.bytes = bytes
            f.counters = decoder.counters
            readerFigures = f
        }
        plans.put(BatchPlan(command: command, reader: readerFigures))
        let shared = timeline
        for w in 0..<workerCount {
            inputs[w].put(WorkerBatch(firstSeq: batchFirstSeq, timeline: shared, items: items[w], payload: payloads[w],
                                      command: command))
            // Handed over: fresh arrays (emptying the shared ones in place would copy them),
            // sized as this batch was with half as much again (never more items than a batch has
            // positions): sized exactly, the next batch's arrays were copied whenever it was the
            // larger (the items 45 times, 2.3 M instructions, on corpus-30MB; the payload, a few
            // hundred KiB, nearly every batch).
            let (itemCount, payloadCount) = (items[w].count, payloads[w].count)
            items[w] = []
            items[w].reserveCapacity(min(itemCount + itemCount / 2, batchPackets))
            payloads[w] = []
            payloads[w].reserveCapacity(min(payloadCount + payloadCount / 2, batchBytes + (64 << 10)))
        }
        batchFirstSeq = seq &+ 1
        timeline = []
        timeline.reserveCapacity(batchPackets)
        payloadBytes = 0
    }

    /// The worker of a packet: a hash of its symmetric 5-tuple (`FlowKey`: the same in both
    /// directions), keyed with a random seed of this process, so that nobody outside can pick
    /// ports that land on the worker of a connection they want to crowd out of its share of the
    /// caps. It is the flow tables' hash under a key of its own (with a worker table's key, each
    /// worker's flows would fill only the buckets of its residue). SipHash before: about 290
    /// instructions a packet on the reading thread.
    static func worker(for p: DecodedPacket, of n: Int) -> Int {
        let key = FlowKey(Endpoint(address: p.src, port: p.srcPort), Endpoint(address: p.dst, port: p.dstPort),
                          transport: p.transport)
        return Int(truncatingIfNeeded: key.hashed(seed: shardSeed) % UInt64(max(1, n)))
    }

    private static let shardSeed: UInt64 = {
        var random = SystemRandomNumberGenerator()
        return random.next()
    }()
}

/// What a batch ends with, besides its packets.
enum BatchCommand {
    case none
    case stats(CaptureStats?, Timestamp)
    case finishFlows(UInt64)
    case flush
    case reload(DetectionConfig)
    case reopen
    case close
}

/// One packet of a batch for a worker: the decoded headers, its payload in the batch's buffer.
struct WorkerItem {
    var index: Int
    var packet: DecodedPacket
    var payloadStart: Int
    var payloadCount: Int
    var wireLength: Int
}

/// A batch for one worker: the whole timeline of the batch, and the packets of its flows.
struct WorkerBatch: @unchecked Sendable {
    var firstSeq: UInt64
    var timeline: [Timestamp]
    var items: [WorkerItem]
    var payload: [UInt8]
    var command: BatchCommand
}

/// What the session stage does with a batch after merging the workers' work.
struct BatchPlan: @unchecked Sendable {
    var command: BatchCommand
    /// The reading thread's figures (packets, bytes, decoder counters), for a stats command.
    var reader: FlowFigures?
}

/// One unit of session work, as a worker recorded it.
enum SessionOp {
    case flowStarted(UInt64)
    case payload(MCPPayload, HTTPHeaders?, PreparedPayload)
    case carriesMCP(UInt64)
    case sensorAnomaly(SensorAnomaly)
    case transportAnomaly(SensorAnomaly, Bool)
    case pressure(PressureNote)
    case egress(OutboundConnection)
    case dns(DNSMessage, IPAddress, Timestamp)
    case flowEnded(FlowRecord)
}

/// A worker's session work for one batch, in groups ordered by (timeline position, key):
/// the key orders flows that end at the same position (see `FlowStage.willEndFlow`); a packet's
/// own work has the highest key.
final class WorkerOutput: @unchecked Sendable {
    // Filled by one worker, then read by the session thread after the hand-over; touched for
    // every operation, so without run-time exclusivity checks: each access is one append, read
    // or store, never held across a call.
    @exclusivity(unchecked) var ops: [SessionOp] = []
    @exclusivity(unchecked) var groups: [(seq: UInt64, key: UInt64, end: Int)] = []
    @exclusivity(unchecked) var figures: FlowFigures?
    /// Handed over before the end of its batch (it grew past its budget): another part follows.
    @exclusivity(unchecked) var more = false
    /// Payload bytes held (messages and their parses, approximately).
    @exclusivity(unchecked) var payloadBytes = 0
}

/// Records what a flow stage hands on, for the session stage thread. Payloads are made ready
/// here, in the worker: parsed, their messages' digests computed and their secrets located (see
/// `PreparedPayload`).
final class OpRecorder: SessionPort {
    // The worker's thread only; unchecked as `WorkerOutput` is.
    @exclusivity(unchecked) var output = WorkerOutput()
    @exclusivity(unchecked) var seq: UInt64 = 0
    @exclusivity(unchecked) var key: UInt64 = .max
    /// The parse's counters (the tracker counts them in one thread).
    var counters = Counters()
    /// Past this many payload bytes the work so far is handed over at once, not at the end of the
    /// batch: a batch of small compressed packets can inflate to many large bodies, and a worker
    /// must not hold them all.
    var partBytes = 2 << 20
    var handOver: ((WorkerOutput) -> Void)?
    private let jsonLimits: JSONLimits
    var secretDetector: SecretDetector?
    /// This worker's secret scans (`SecretScanCache`: one per thread).
    private let scanCache = SecretScanCache()

    init(config: EngineConfig) {
        jsonLimits = config.mcp.json
        secretDetector = config.detection.map { SecretDetector(scanner: $0.secrets) }
    }

    private func prepare(_ payload: MCPPayload, headers: HTTPHeaders?) -> PreparedPayload {
        var rejection: JSONError?
        let parsed = JSONRPC.parse(payload.bytes, limits: jsonLimits, counters: &counters, rejection: &rejection)
        var secrets = PerMessage<SecretLocations>()
        var digests = PerMessage<SHA256Value?>()
        if let parsed {
            // One pass, each message read where it is (a `for` over the array copied each one).
            let count = parsed.messages.count
            digests.reserveCapacity(count)
            if secretDetector != nil { secrets.reserveCapacity(count) }
            for i in 0..<count {
                digests.append(MCPTracker.bodyDigest(of: parsed.messages[i], in: parsed.document))
                if let secretDetector {
                    secrets.append(secretDetector.locateMasked(MCPMessageView(document: parsed.document, message: parsed.messages[i]),
                                                          headers: headers, cache: scanCache))
                }
            }
        }
        return PreparedPayload(parsed: parsed, rejection: rejection, secrets: secrets, digests: digests)
    }

    private func add(_ op: consuming SessionOp) {
        // `consume`: without it the op was copied into the array and the original destroyed.
        if let last = output.groups.last, last.seq == seq, last.key == key {
            output.ops.append(consume op)
            output.groups[output.groups.count - 1].end = output.ops.count
        } else {
            output.ops.append(consume op)
            output.groups.append((seq, key, output.ops.count))
        }
    }

    func flowStarted(_ flowId: UInt64) { add(.flowStarted(flowId)) }
    func mcpPayload(_ payload: consuming MCPPayload, headers: HTTPHeaders?) {
        let prepared = prepare(payload, headers: headers)
        // The bytes, and about as much again for their parse.
        output.payloadBytes += 2 * payload.bytes.count
        add(.payload(consume payload, headers, prepared))
        if output.payloadBytes >= partBytes, let handOver {
            output.more = true
            handOver(output)
            output = freshOutput()
        }
    }
    /// A new output, its arrays sized as the last one's were, with half as much again: grown one
    /// append at a time, the operations (large values) were copied a dozen times a batch; sized
    /// exactly, whenever a batch had more than the one before (74 times, 4.4 M instructions, on
    /// corpus-30MB). Capped, so one busy batch does not keep a large reservation.
    func freshOutput() -> WorkerOutput {
        let o = WorkerOutput()
        let (ops, groups) = (output.ops.count, output.groups.count)
        o.ops.reserveCapacity(min(ops + ops / 2, 1 << 14))
        o.groups.reserveCapacity(min(groups + groups / 2, 1 << 14))
        return o
    }

    func carriesMCP(_ flowId: UInt64) { add(.carriesMCP(flowId)) }
    func sensorAnomaly(_ anomaly: SensorAnomaly) { add(.sensorAnomaly(anomaly)) }
    func transportAnomaly(_ anomaly: SensorAnomaly, oncePerFlow: Bool) { add(.transportAnomaly(anomaly, oncePerFlow)) }
    func pressure(_ note: PressureNote) { add(.pressure(note)) }
    func egress(_ connection: OutboundConnection) { add(.egress(connection)) }
    func dnsAnswer(_ message: DNSMessage, client: IPAddress, time: Timestamp) { add(.dns(message, client, time)) }
    func flowEnded(_ record: consuming FlowRecord) { add(.flowEnded(consume record)) }
}

/// One worker thread: a flow stage over its share of the flows.
final class Worker: @unchecked Sendable {
    /// CPU time this worker's thread used, stored when it ends.
    let cpuNanoseconds = Atomic<Int>(0)
    private let stage: FlowStage
    private let recorder: OpRecorder
    private let input: HandOver<WorkerBatch>
    private let output: HandOver<WorkerOutput>

    init(config: EngineConfig, input: HandOver<WorkerBatch>, output: HandOver<WorkerOutput>, partBytes: Int) {
        let recorder = OpRecorder(config: config)
        recorder.partBytes = max(1, partBytes)
        self.recorder = recorder
        self.stage = FlowStage(config: config, port: recorder)
        self.input = input
        self.output = output
        recorder.handOver = { [output] part in output.put(part) }
        stage.willEndFlow = { [recorder] key in recorder.key = key }
        stage.willProcessPacket = { [recorder] in recorder.key = .max }
    }

    func run() {
        blockHandledSignals()
        // The session thread is the one all the work funnels into: when the cores are short,
        // it goes first, and the workers fill the time it leaves.
        // (On Linux the nice value is per thread: `who` 0 is this thread.)
        _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 5)
        while let batch = input.take() {
            recorder.output = recorder.freshOutput()
            var next = 0
            batch.payload.withUnsafeBytes { buffer in
                for (i, time) in batch.timeline.enumerated() {
                    let position = batch.firstSeq &+ UInt64(i)
                    recorder.seq = position
                    stage.advance(to: time, seq: position)
                    guard next < batch.items.count, batch.items[next].index == i else { continue }
                    let item = batch.items[next]
                    next += 1
                    stage.anticipate(next + 1 < batch.items.count ? batch.items[next + 1].packet.flowTuple : nil)
                    var p = item.packet
                    p.payload = UnsafeRawBufferPointer(rebasing: buffer[item.payloadStart..<(item.payloadStart + item.payloadCount)])
                    stage.process(decoded: p, wireLength: item.wireLength, packet: nil, linkType: 0)
                }
            }
            var stop = false
            switch batch.command {
            case .stats:
                var figures = stage.figures
                figures.counters.merge(recorder.counters)
                recorder.output.figures = figures
            case .finishFlows(let position):
                recorder.seq = position
                stage.finishFlows(seq: position)
            case .reload(let new):
                // After this batch, as the session stage reloads after it.
                if recorder.secretDetector != nil { recorder.secretDetector = SecretDetector(scanner: new.secrets) }
            case .close:
                stop = true
            case .none, .flush, .reopen:
                break
            }
            output.put(recorder.output)
            if stop { break }
        }
        cpuNanoseconds.store(threadCPUNanoseconds(), ordering: .relaxed)
    }
}

/// The session stage's thread: merges the workers' work batch by batch, in timeline order.
final class SerialStage: @unchecked Sendable {
    let session: SessionStage
    private let plans: HandOver<BatchPlan>
    private let outputs: [HandOver<WorkerOutput>]
    private let outputStatsLock = Mutex(())
    private nonisolated(unsafe) var outputStatsSource: (() -> OutputStats)?
    var outputStats: (() -> OutputStats)? {
        get { outputStatsLock.withLock { _ in outputStatsSource } }
        set { outputStatsLock.withLock { _ in outputStatsSource = newValue } }
    }
    let eventsWritten = Atomic<Int>(0)
    /// CPU time the session thread used, stored when it ends.
    let cpuNanoseconds = Atomic<Int>(0)

    init(session: SessionStage, plans: HandOver<BatchPlan>, outputs: [HandOver<WorkerOutput>]) {
        self.session = session
        self.plans = plans
        self.outputs = outputs
    }

    func run() {
        blockHandledSignals()
        var batch: [WorkerOutput] = []
        var cursors: [(group: Int, op: Int)] = []
        while let plan = plans.take() {
            batch.removeAll(keepingCapacity: true)
            for o in outputs { batch.append(o.take() ?? WorkerOutput()) }
            cursors = Array(repeating: (0, 0), count: batch.count)
            // k-way merge of the workers' groups by (position, key). A worker's batch may come in
            // parts: when one part is used up, the next is taken before comparing again (a group
            // cut between parts continues in the next, and no other worker has its key).
            var figures: [FlowFigures?] = batch.map(\.figures)
            while true {
                for w in 0..<batch.count {
                    while cursors[w].group >= batch[w].groups.count && batch[w].more {
                        batch[w] = outputs[w].take() ?? WorkerOutput()
                        cursors[w] = (0, 0)
                        if let f = batch[w].figures { figures[w] = f }
                    }
                }
                var best = -1
                for w in 0..<batch.count where cursors[w].group < batch[w].groups.count {
                    let g = batch[w].groups[cursors[w].group]
                    if best < 0 { best = w; continue }
                    let b = batch[best].groups[cursors[best].group]
                    if g.seq < b.seq || (g.seq == b.seq && g.key < b.key) { best = w }
                }
                guard best >= 0 else { break }
                let out = batch[best]
                let group = out.groups[cursors[best].group]
                session.worker = best
                let first = cursors[best].op
                out.ops.withUnsafeMutableBufferPointer { ops in
                    guard let base = ops.baseAddress else { return }
                    // Taken out, not copied: a copy retained each of the payload's references
                    // here and released them again with the batch. Each op runs once. Moved out
                    // and the slot refilled with a small value: one copy of the 392-byte op, where
                    // a swap made three. Nothing `run` reaches touches this output.
                    for i in first..<min(group.end, ops.count) {
                        let op = (base + i).move()
                        (base + i).initialize(to: .carriesMCP(0))
                        run(op)
                    }
                }
                cursors[best] = (cursors[best].group + 1, group.end)
            }
            switch plan.command {
            case .stats(let captureStats, let time):
                var total = plan.reader ?? FlowFigures()
                for f in figures { if let f { total.add(f) } }
                session.writeStats(total, captureStats: captureStats, outputStats: outputStats?(), time: time)
            case .flush:
                session.flush()
            case .reload(let new):
                _ = session.reload(new)
            case .reopen:
                session.reopenOutputs()
            case .close:
                session.flush()
                eventsWritten.store(session.eventsWritten, ordering: .relaxed)
                cpuNanoseconds.store(threadCPUNanoseconds(), ordering: .relaxed)
                return
            case .none, .finishFlows:
                break
            }
            eventsWritten.store(session.eventsWritten, ordering: .relaxed)
        }
    }

    /// A payload op, in a function of its own: bound in the `switch` below, the whole op was
    /// copied (every reference of the payload and its parse retained, then released) before
    /// the session stage read it; bound here, it is taken apart in place.
    @inline(never)
    private func runPayload(_ op: consuming SessionOp) {
        guard case .payload(let payload, let headers, let prepared) = consume op else { return }
        session.mcpPayload(payload, headers: headers, prepared: prepared)
    }

    private func run(_ op: consuming SessionOp) {
        if case .payload = op {
            runPayload(consume op)
            return
        }
        switch consume op {
        case .flowStarted(let id): session.flowStarted(id)
        case .payload: break // taken apart above, by `runPayload`
        case .carriesMCP(let id): session.carriesMCP(id)
        case .sensorAnomaly(let a): session.sensorAnomaly(a)
        case .transportAnomaly(let a, let once): session.transportAnomaly(a, oncePerFlow: once)
        case .pressure(let p): session.pressure(p)
        case .egress(let c): session.egress(c)
        case .dns(let m, let client, let time): session.dnsAnswer(m, client: client, time: time)
        case .flowEnded(let r): session.flowEnded(r)
        }
    }
}

/// A bounded first-in first-out hand-over between threads: `put` waits for room, `take` for an item.
final class HandOver<T>: @unchecked Sendable {
    private var ring: [T?]
    private var head = 0
    private var count = 0
    private let lock = Mutex(())
    private let filled = DispatchSemaphore(value: 0)
    private let room: DispatchSemaphore

    init(capacity: Int) {
        ring = Array(repeating: nil, count: max(1, capacity))
        room = DispatchSemaphore(value: max(1, capacity))
    }

    deinit {
        // libdispatch stops the process when a semaphore is freed below its starting value:
        // give back the room of whatever is still queued (a pipeline whose threads never started).
        for _ in 0..<count { room.signal() }
    }

    func put(_ item: T) {
        room.wait()
        lock.withLock { _ in
            ring[(head + count) % ring.count] = item
            count += 1
        }
        filled.signal()
    }

    func take() -> T? {
        filled.wait()
        let item: T? = lock.withLock { _ in
            let item = ring[head]
            ring[head] = nil
            head = (head + 1) % ring.count
            count -= 1
            return item
        }
        room.signal()
        return item
    }
}

/// Starts a thread running `body`; nil when the system refuses one.
private func startThread(_ body: @escaping () -> Void) -> pthread_t? {
    final class Box { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
    var thread = pthread_t()
    let context = Unmanaged.passRetained(Box(body)).toOpaque()
    let rc = pthread_create(&thread, nil, { arg in
        guard let arg else { return nil }
        Unmanaged<Box>.fromOpaque(arg).takeRetainedValue().body()
        return nil
    }, context)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(context).release()
        return nil
    }
    return thread
}

/// The signals the capture thread handles go to it (its handlers act between packets). Others
/// keep their default here: SIGPIPE when standard output's reader goes away ends the process as
/// with one worker, and a fault in a worker still reaches the crash handler.
func blockHandledSignals() {
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM, SIGHUP, SIGUSR1] { sigaddset(&set, s) }
    pthread_sigmask(SIG_BLOCK, &set, nil)
}
