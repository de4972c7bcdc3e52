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
    public var floorSeconds: Double
    public var pipelineSeconds: Double
    public var peakResidentBytes: Int

    public var floorMBps: Double { Double(bytes) / 1e6 / max(floorSeconds, 1e-9) }
    public var pipelineMBps: Double { Double(bytes) / 1e6 / max(pipelineSeconds, 1e-9) }
    public var packetsPerSecond: Double { Double(packets) / max(pipelineSeconds, 1e-9) }
    public var eventsPerSecond: Double { Double(events) / max(pipelineSeconds, 1e-9) }
}

/// Discards events but counts them: the benchmark measures the sensor, not the disk.
final class CountingSink: EventSink {
    var lines = 0
    func write(line: [UInt8]) { lines += 1 }
    func flush() {}
    func close() {}
}

public enum Benchmark {
    /// Reads `files` `passes` times with libpcap alone (the floor), then `passes` times through the
    /// whole pipeline, each pass with a fresh engine so repeated captures do not meet closed flows.
    public static func run(files: [String], passes: Int, config: EngineConfig) throws(CaptureError) -> BenchmarkReport {
        var packets: UInt64 = 0, bytes: UInt64 = 0
        let floorStart = monotonicSeconds()
        for _ in 0..<passes {
            for path in files {
                let source = try PcapSource.openFile(path)
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
        }
        let floorSeconds = monotonicSeconds() - floorStart
        var events = 0
        let start = monotonicSeconds()
        for _ in 0..<passes {
            let sink = CountingSink()
            let engine = Engine(config: config, sink: sink)
            _ = try Runner(engine: engine).replay(files: files, diagnostics: { _ in })
            events += sink.lines
        }
        let seconds = monotonicSeconds() - start
        return BenchmarkReport(passes: passes, packets: packets, bytes: bytes, events: events,
                               floorSeconds: floorSeconds, pipelineSeconds: seconds,
                               peakResidentBytes: ProcessMemory.peakResidentBytes())
    }
}
