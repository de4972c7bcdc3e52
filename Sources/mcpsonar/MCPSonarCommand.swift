import ArgumentParser
import SonarCapture
import SonarEngine
import SonarOutput
#if canImport(Glibc)
import Glibc
#endif

/// `mcpsonar`: the command line of ../shared/contract.md, turned into an engine configuration.
@main
struct MCPSonarCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mcpsonar",
        abstract: "A passive network sensor for Model Context Protocol traffic.",
        subcommands: [Run.self, Bench.self],
        defaultSubcommand: Run.self)
}

/// Replay or live capture: the sensor itself (the default subcommand).
struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Replay captures or capture live, writing MCP events as JSON lines (the default).",
        discussion: """
            Replay captures:  mcpsonar -r capture.pcap [-r more.pcapng ...] [-o events.json]
            Capture live:     mcpsonar -i lo [BPF expression ...]
            Events are JSON lines (Suricata EVE-style field names).
            """)

    @Option(name: [.short, .customLong("read")], help: ArgumentHelp("Read packets from a pcap or pcapng file (repeatable; read in order as one timeline).", valueName: "FILE"))
    var read: [String] = []

    @Option(name: [.short, .customLong("interface")], help: ArgumentHelp("Capture live from an interface (lo, any, eth0, ...).", valueName: "IFACE"))
    var interface: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write events to FILE (appending); '-' is standard output.", valueName: "FILE"))
    var output: String = "-"

    @Flag(name: .customLong("payloads"), help: "Include each message as compact JSON in its event (mcp.message).")
    var payloads = false

    @Option(name: .customLong("snaplen"), help: "Live capture: bytes captured per packet.")
    var snaplen: Int32 = 262_144

    @Flag(name: .customLong("no-promisc"), help: "Live capture: do not put the interface into promiscuous mode.")
    var noPromiscuous = false

    @Option(name: .customLong("max-flows"), help: "Flows tracked at once; the least recently active are evicted beyond it.")
    var maxFlows: Int = 500_000

    @Argument(help: ArgumentHelp("Live capture: a BPF filter expression, as for tcpdump.", valueName: "expression"))
    var filter: [String] = []

    func validate() throws {
        if read.isEmpty && interface == nil {
            throw ValidationError("nothing to read: give -r FILE or -i IFACE")
        }
        if !read.isEmpty && interface != nil {
            throw ValidationError("-r and -i cannot be combined")
        }
        if !filter.isEmpty && interface == nil {
            throw ValidationError("a filter expression applies to live capture (-i) only: '\(filter.joined(separator: " "))'")
        }
        if maxFlows < 1 { throw ValidationError("--max-flows must be at least 1") }
    }

    func run() throws {
        let sink: EventSink
        do {
            sink = output == "-" ? FileSink() : try FileSink(path: output)
        } catch {
            fail("\(error)")
        }
        var config = EngineConfig()
        config.mcp.includePayloads = payloads
        config.flow.maxFlows = maxFlows
        let engine = Engine(config: config, sink: sink)
        let runner = Runner(engine: engine)
        let outcome: RunOutcome
        do {
            if let interface {
                var options = LiveCaptureOptions()
                options.snaplen = snaplen
                options.promiscuous = !noPromiscuous
                outcome = try runner.live(interface: interface, filter: filter.isEmpty ? nil : filter.joined(separator: " "),
                                          options: options, diagnostics: warn)
            } else {
                outcome = try runner.replay(files: read, diagnostics: warn)
            }
        } catch {
            sink.close()
            fail("\(error)")
        }
        sink.close()
        if case .damaged = outcome { throw ExitCode(1) }
    }
}

/// One line on standard error.
func warn(_ message: String) {
    var line = Array("mcpsonar: \(message)\n".utf8)
    line.withUnsafeMutableBytes { _ = write(2, $0.baseAddress, $0.count) }
}

func fail(_ message: String) -> Never {
    warn(message)
    exit(2)
}

/// Throughput next to the libpcap read floor on the same files, in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure MB/s, packets/s, events/s and peak memory against the libpcap read floor.")

    @Option(name: [.short, .customLong("read")], help: ArgumentHelp("Capture file to measure on (repeatable).", valueName: "FILE"))
    var read: [String] = []

    @Option(name: .customLong("passes"), help: "Read the files this many times (each pass with a fresh engine).")
    var passes: Int = 200

    @Flag(name: .customLong("payloads"), help: "Include payloads in events, as --payloads does.")
    var payloads = false

    func validate() throws {
        if read.isEmpty { throw ValidationError("give at least one capture with -r FILE") }
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
    }

    func run() throws {
        var config = EngineConfig()
        config.mcp.includePayloads = payloads
        let report: BenchmarkReport
        do {
            report = try Benchmark.run(files: read, passes: passes, config: config)
        } catch {
            fail("\(error)")
        }
        func f(_ v: Double, _ places: Int = 1) -> String {
            let scale = pow10(places)
            return String(Double((v * scale).rounded()) / scale)
        }
        let text = """
            files: \(read.joined(separator: " ")) x \(report.passes) passes
            input: \(report.packets) packets, \(report.bytes) bytes
            libpcap read floor: \(f(report.floorMBps)) MB/s (\(f(report.floorSeconds, 3)) s)
            mcpsonar pipeline:  \(f(report.pipelineMBps)) MB/s (\(f(report.pipelineSeconds, 3)) s), \(f(report.packetsPerSecond, 0)) packets/s, \(f(report.eventsPerSecond, 0)) events/s
            pipeline / floor:   \(f(100 * report.pipelineMBps / max(report.floorMBps, 1e-9)))%
            peak resident memory: \(f(Double(report.peakResidentBytes) / 1_048_576)) MiB

            """
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
    }

    private func pow10(_ n: Int) -> Double { var v = 1.0; for _ in 0..<n { v *= 10 }; return v }
}
