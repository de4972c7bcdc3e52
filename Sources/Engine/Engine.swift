import SonarCapture
import SonarCore
import SonarDetect
import SonarMCP
import SonarOutput

/// What drives a pipeline: the runner, the benchmark and the tests. `Engine` is one worker;
/// `ParallelEngine` spreads the flows over several.
public protocol PacketPipeline: AnyObject {
    var config: EngineConfig { get }
    /// The latest packet time seen.
    var now: Timestamp { get }
    /// Events written so far (for the progress line).
    var eventsWritten: Int { get }
    var outputStats: (() -> OutputStats)? { get set }
    func process(_ packet: CapturedPacket, linkType: Int32)
    /// Called before `process` with the bytes of the second packet after it (nil when they
    /// cannot be seen ahead): a hint to fetch coming packets' state early. Only when
    /// `anticipates`: the look ahead is not read for a pipeline that would ignore it.
    func anticipate(_ afterNext: UnsafeRawBufferPointer?, linkType: Int32)
    var anticipates: Bool { get }
    func advanceClock(to time: Timestamp)
    func writeStats(captureStats: CaptureStats?, time: Timestamp?)
    func finishFlows()
    func finish()
    func flush()
    func reloadDetection(_ new: DetectionConfig) -> Bool
    /// Reopens the outputs (SIGHUP, after logrotate), in order with the events around it, on the
    /// thread that writes them.
    func reopenOutputs()
    /// Waits until everything handed over is written (the threads of a parallel pipeline end).
    func close()
}

/// One worker (`Engine`) or several (`ParallelEngine`; one worker if its threads cannot start).
public func makePipeline(config: EngineConfig, sink: EventSink, workers: Int) -> any PacketPipeline {
    if workers > 1, let parallel = ParallelEngine(config: config, sink: sink, workers: workers) { return parallel }
    return Engine(config: config, sink: sink)
}

extension PacketPipeline {
    public func writeStats(captureStats: CaptureStats?) { writeStats(captureStats: captureStats, time: nil) }
}

/// The one-way pipeline in one thread: decode → flows → reassembly → HTTP/SSE → JSON-RPC/MCP → output.
/// Time is always packet time.
public final class Engine: PacketPipeline {
    public private(set) var config: EngineConfig
    private let flowStage: FlowStage
    private let session: SessionStage
    /// The output path's own figures (queue and sink drops), for `stats`; nil: none to report.
    public var outputStats: (() -> OutputStats)?

    public init(config: EngineConfig, sink: EventSink) {
        self.config = config
        self.session = SessionStage(config: config, sink: sink)
        self.flowStage = FlowStage(config: config, port: session)
    }

    /// `--pcap-alerts`: keeps each flow's packets until it is judged, and writes those of flows
    /// that raised an alert to pcap files.
    public var alertCapture: AlertCapture? {
        get { flowStage.alertCapture }
        set { flowStage.alertCapture = newValue; session.alertCapture = newValue }
    }
    public var flowEvents: Bool {
        get { session.flowEvents }
        set { session.flowEvents = newValue }
    }
    /// Bytes held by the application-layer parsers of all flows (see `maxAppBufferedBytesTotal`).
    public var appBufferedBytes: Int { flowStage.appBufferedBytes }
    /// Flows in the table now.
    public var flowsActive: Int { flowStage.flows.count }
    public var flowsEvictedTotal: UInt64 { flowStage.flows.flowsEvicted }
    /// Out-of-order bytes held by reassembly across all flows.
    public var reassemblyPendingBytes: Int { flowStage.flows.reassembly.pendingBytesTotal }
    /// Delivered bytes kept by reassembly to compare retransmissions with.
    public var reassemblyRecentBytes: Int { flowStage.flows.reassembly.recentBytesTotal }
    public var eventsWritten: Int { session.eventsWritten }
    public var packets: UInt64 { flowStage.packets }
    public var bytes: UInt64 { flowStage.bytes }
    public var now: Timestamp { flowStage.now }

    /// One packet from any source.
    public func process(_ packet: CapturedPacket, linkType: Int32) {
        flowStage.process(packet, linkType: linkType)
    }

    public func anticipate(_ afterNext: UnsafeRawBufferPointer?, linkType: Int32) {
        flowStage.anticipate(afterNext, linkType: linkType)
    }
    public var anticipates: Bool { true }

    /// End of input: finish every flow, then write the `stats` event.
    public func finish() {
        finishFlows()
        alertCapture?.close()
        writeStats(captureStats: nil, time: nil)
        session.flush()
    }

    /// Ends every open flow, delivering what each still holds.
    public func finishFlows() {
        flowStage.finishFlows(seq: flowStage.seq &+ 1)
    }

    /// Live capture on a quiet link: the wall clock stands in for the packet clock, so idle flows
    /// time out and end (with their `flow` events) without waiting for the next packet.
    public func advanceClock(to time: Timestamp) {
        flowStage.advanceClock(to: time, seq: flowStage.seq &+ 1)
    }

    /// Swaps the rule set between two packets (SIGHUP). False when detection is off.
    public func reloadDetection(_ new: DetectionConfig) -> Bool {
        guard session.reload(new) else { return false }
        config.detection = new
        return true
    }

    /// Writes a `stats` event with the figures so far, stamped `time` (default: the packet clock).
    public func writeStats(captureStats: CaptureStats?, time: Timestamp?) {
        session.writeStats(flowStage.figures, captureStats: captureStats, outputStats: outputStats?(), time: time ?? now)
    }

    public func flush() { session.flush() }

    public func reopenOutputs() { session.reopenOutputs() }

    public func close() {}

    /// The tool inventory the capture showed, as an approved-inventory file (`mcpsonar pins`).
    public func pinsJSON() -> [UInt8] {
        let tracker = session.tracker
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
            for name in inventory.tools.keys.sorted() { w.field(dynamic: name, inventory.tools[name]?.sha256) }
            w.endObject()
            w.endObject()
        }
        w.endArray()
        w.endObject()
        return w.bytes
    }
}
