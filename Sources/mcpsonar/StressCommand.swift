import ArgumentParser
import SonarEngine
#if canImport(Glibc)
import Glibc
#endif

/// `mcpsonar stress`: memory under attack (docs/limits.md). Generates hostile traffic in-process
/// (no capture file), feeds it to the engine with the configured limits and reports what the
/// sensor held at its peak next to the caps.
struct StressCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stress",
        abstract: "Feed generated attack traffic (SYN flood, out-of-order flood, slow-loris) and report peak memory against the limits.")

    @Option(name: .customLong("scenario"), help: ArgumentHelp("syn-flood, out-of-order, slow-loris or slow-body.", valueName: "NAME"))
    var scenario: String = "syn-flood"

    @Option(name: .customLong("count"), help: "Packets to send (syn-flood: flows; out-of-order: segments).")
    var count: Int = 1_000_000

    @Option(name: .customLong("connections"), help: "slow-loris and slow-body: connections kept open at once.")
    var connections: Int = 10_000

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if StressScenario(rawValue: scenario) == nil {
            throw ValidationError("unknown scenario '\(scenario)': \(StressScenario.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if connections < 1 || connections > 1_000_000 { throw ValidationError("--connections must be 1 to 1000000") }
    }

    func run() throws {
        guard let which = StressScenario(rawValue: scenario) else { throw ExitCode(2) }
        var config = EngineConfig()
        limits.apply(to: &config)
        config.detection = detection.load()
        let r = Stress.run(which, count: count, connections: connections, config: config)
        func mib(_ b: Int) -> String { String(Double(b * 10 / 1_048_576) / 10) + " MiB" }
        let counters = r.counters.keys.sorted().map { "\($0)=\(r.counters[$0] ?? 0)" }.joined(separator: " ")
        let text = """
            scenario: \(which.rawValue), \(r.packets) packets in \(String(Double(Int(r.seconds * 100)) / 100)) s
            flows: peak \(r.peakFlows) (flow.max_flows \(config.flow.maxFlows)), evicted \(r.flowsEvicted)
            reassembly pending: peak \(r.peakPendingBytes) bytes (reassembly.max_pending_bytes_total \(config.flow.reassembly.maxPendingBytesTotal), per direction \(config.flow.reassembly.maxPendingBytesPerDirection))
            reassembly recent: peak \(r.peakRecentBytes) bytes (reassembly.max_recent_bytes_total \(config.flow.reassembly.maxRecentBytesTotal))
            application buffers: peak \(r.peakAppBufferedBytes) bytes (app.max_buffered_bytes_total \(config.maxAppBufferedBytesTotal))
            resident memory: before \(mib(r.residentBefore)), peak \(mib(r.peakResident)), after \(mib(r.residentAfter)); process peak (VmHWM) \(mib(r.processPeakResident))
            events: \(r.events.keys.sorted().map { "\($0)=\(r.events[$0] ?? 0)" }.joined(separator: " "))
            alerts: \(r.alerts.keys.sorted().map { "\($0)=\(r.alerts[$0] ?? 0)" }.joined(separator: " "))
            counters: \(counters)

            """
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
    }
}
