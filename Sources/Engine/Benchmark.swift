import SonarCapture
import SonarCore
import SonarOutput
#if canImport(Glibc)
import Glibc
#endif

/// Throughput of the pipeline next to the libpcap read floor, measured in one run on the same files.
public struct BenchmarkReport: Sendable {
    public var passes: Int
    public var packets: UInt64
    public var bytes: UInt64
    public var events: Int
    /// `mcp` events and alerts among `events`.
    public var mcpEvents: Int
    public var alerts: Int
    public var floorSeconds: Double
    public var pipelineSeconds: Double
    public var peakResidentBytes: Int
    /// CPU time of the benchmarking thread in each phase: on a shared machine, wall time also
    /// counts the time other processes held the CPU.
    public var floorCPUSeconds = 0.0
    public var pipelineCPUSeconds = 0.0
    /// CPU time of every thread of the process during the pipeline phase (workers included).
    public var pipelineProcessCPUSeconds = 0.0
    public var workers = 1
    /// With workers: the CPU time of each worker's thread and of the session thread over the
    /// pipeline passes (the reading thread's is `pipelineCPUSeconds`). Where the two-worker time
    /// goes: a thread near the wall time is the one the others wait for.
    public var workerCPUSeconds: [Double] = []
    public var sessionCPUSeconds = 0.0
    public var pipelineCPUMBps: Double { Double(bytes) / 1e6 / max(pipelineCPUSeconds, 1e-9) }
    public var floorCPUMBps: Double { Double(bytes) / 1e6 / max(floorCPUSeconds, 1e-9) }

    public var floorMBps: Double { Double(bytes) / 1e6 / max(floorSeconds, 1e-9) }
    public var pipelineMBps: Double { Double(bytes) / 1e6 / max(pipelineSeconds, 1e-9) }
    public var packetsPerSecond: Double { Double(packets) / max(pipelineSeconds, 1e-9) }
    public var eventsPerSecond: Double { Double(events) / max(pipelineSeconds, 1e-9) }
    public var mcpEventsPerSecond: Double { Double(mcpEvents) / max(pipelineSeconds, 1e-9) }
    public var floorPacketsPerSecond: Double { Double(packets) / max(floorSeconds, 1e-9) }
    /// The pipeline's share of the floor's throughput (1 = as fast as reading the file).
    public var ratio: Double { floorSeconds / max(pipelineSeconds, 1e-9) }
}

/// Discards events but counts them: the benchmark measures the sensor, not the disk. Each line
/// is still copied into a 64 KiB block, as `FileSink` copies it before write(2), so the
/// benchmark pays what the sensor pays for a line; without `write(bytes:type:)` here the
/// protocol's default made an Array of every line, an allocation the sensor never makes.
final class CountingSink: EventSink {
    var lines = 0
    var mcp = 0
    var alerts = 0
    private var block: [UInt8] = []
    private let blockSize = 64 << 10

    init() { block.reserveCapacity(blockSize * 2) }

    func write(line: [UInt8]) { line.withUnsafeBytes { write(bytes: $0, type: "") } }
    func write(line: [UInt8], type: String) { line.withUnsafeBytes { write(bytes: $0, type: type) } }
    func write(bytes: UnsafeRawBufferPointer, type: String) {
        lines += 1
        if type == "mcp" { mcp += 1 } else if type == "alert" { alerts += 1 }
        block.append(contentsOf: bytes)
        block.append(0x0A)
        if block.count >= blockSize { block.removeAll(keepingCapacity: true) }
    }
    func flush() { block.removeAll(keepingCapacity: true) }
    func close() {}
}

public enum Benchmark {
    /// Reads `files` once with libpcap alone: their packets and captured bytes.
    public static func readAll(_ files: [String]) throws(CaptureError) -> (packets: UInt64, bytes: UInt64) {
        var packets: UInt64 = 0, bytes: UInt64 = 0
        for path in files {
            let source = try PcapSource.openFile(path, inPlace: false)
            reading: while true {
                switch source.next() {
                case .packet(let p):
                    packets += 1
                    bytes += UInt64(p.bytes.count)
                case .timeout: continue
                case .end, .error: break reading
                }
            }
        }
        return (packets, bytes)
    }

    /// Reads `files` once untimed, then `passes` times with libpcap alone (the floor), then `passes`
    /// times through the whole pipeline, each pass with a fresh engine so repeated captures do not
    /// meet closed flows.
    public static func run(files: [String], passes: Int, config: EngineConfig, workers: Int = 1) throws(CaptureError) -> BenchmarkReport {
        // One untimed read first: the floor and the pipeline then both read files from the page
        // cache. Read cold, the floor was the disk's (610-780 MB/s instead of 2 500-4 200), and
        // the pipeline's share of it looked four to six times what it is.
        _ = try readAll(files)
        var packets: UInt64 = 0, bytes: UInt64 = 0
        let floorStart = monotonicSeconds()
        let floorCPUStart = threadCPUSeconds()
        for _ in 0..<passes {
            let (p, b) = try readAll(files)
            packets += p
            bytes += b
        }
        let floorSeconds = monotonicSeconds() - floorStart
        let floorCPU = threadCPUSeconds() - floorCPUStart
        var events = 0, mcp = 0, alerts = 0
        var workerCPU: [Double] = [], sessionCPU = 0.0
        let start = monotonicSeconds()
        let cpuStart = threadCPUSeconds()
        let processCPUStart = processCPUSeconds()
        for _ in 0..<passes {
            let sink = CountingSink()
            let engine = makePipeline(config: config, sink: sink, workers: workers)
            _ = try Runner(engine: engine).replay(files: files, diagnostics: { _ in })
            if let parallel = engine as? ParallelEngine {
                // Replay finished it: its threads have ended.
                let (w, session) = parallel.threadCPUSeconds
                workerCPU = workerCPU.isEmpty ? w : zip(workerCPU, w).map(+)
                sessionCPU += session
            }
            events += sink.lines
            mcp += sink.mcp
            alerts += sink.alerts
        }
        let seconds = monotonicSeconds() - start
        let cpu = threadCPUSeconds() - cpuStart
        let processCPU = processCPUSeconds() - processCPUStart
        var report = BenchmarkReport(passes: passes, packets: packets, bytes: bytes, events: events, mcpEvents: mcp, alerts: alerts,
                               floorSeconds: floorSeconds, pipelineSeconds: seconds,
                               peakResidentBytes: ProcessMemory.peakResidentBytes())
        report.floorCPUSeconds = floorCPU
        report.pipelineCPUSeconds = cpu
        report.pipelineProcessCPUSeconds = processCPU
        report.workers = workers
        report.workerCPUSeconds = workerCPU
        report.sessionCPUSeconds = sessionCPU
        return report
    }
}

/// CPU time used by every thread of the process so far.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// CPU time used by the calling thread so far.
func threadCPUSeconds() -> Double { Double(threadCPUNanoseconds()) / 1e9 }

/// CPU time used by the calling thread so far, in nanoseconds (each worker and the session
/// thread store theirs as they end).
func threadCPUNanoseconds() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Int(ts.tv_sec) &* 1_000_000_000 &+ Int(ts.tv_nsec)
}
