import ArgumentParser
import SonarCapture
import SonarCore
import SonarDetect
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
        subcommands: [Run.self, Bench.self, Rules.self, Pins.self, StressCommand.self],
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

    @Option(name: .customLong("buffer-size"), help: "Live capture: kernel capture buffer in MiB (default 64).")
    var bufferSizeMiB: Int32 = 64

    @Option(name: .customLong("max-flows"), help: "Flows tracked at once; the least recently active are evicted beyond it.")
    var maxFlows: Int = 500_000

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var limits: LimitOptions

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
        limits.apply(to: &config)
        config.detection = detection.load()
        let engine = Engine(config: config, sink: sink)
        let runner = Runner(engine: engine)
        let outcome: RunOutcome
        do {
            if let interface {
                var options = LiveCaptureOptions()
                options.snaplen = snaplen
                options.promiscuous = !noPromiscuous
                options.bufferSize = max(1, min(bufferSizeMiB, 2047)) << 20
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

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if read.isEmpty { throw ValidationError("give at least one capture with -r FILE") }
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
    }

    func run() throws {
        var config = EngineConfig()
        config.mcp.includePayloads = payloads
        limits.apply(to: &config)
        config.detection = detection.load()
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
            files: \(read.joined(separator: " ")) x \(report.passes) passes, detection \(config.detection == nil ? "off" : "on (\(config.detection?.rules.rules.count ?? 0) Sigma rules)")
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

/// Where the rules come from, shared by the commands that detect.
struct DetectionOptions: ParsableArguments {
    @Option(name: .customLong("rules"), help: ArgumentHelp("A rules folder (sigma/, secrets.yml, content.yml, methods.yml, policy.yml), or one Sigma rule file used with the shipped detector configuration.", valueName: "PATH"))
    var rules: String?

    @Option(name: .customLong("pins"), help: ArgumentHelp("An approved tool inventory (as `mcpsonar pins` writes): alert on tools not in it or changed.", valueName: "FILE"))
    var pins: String?

    @Flag(name: .customLong("no-detect"), help: "Run no detectors and no rules: mcp and stats events only.")
    var noDetect = false

    @Option(name: .customLong("egress-allow"), help: ArgumentHelp("Add to the egress allow-list: a DNS name (covers its subdomains) or a CIDR (repeatable).", valueName: "NAME_OR_CIDR"))
    var egressAllow: [String] = []

    @Option(name: .customLong("mcp-server"), help: ArgumentHelp("Treat this address as an MCP server host for egress (repeatable).", valueName: "ADDR[:PORT]"))
    var mcpServer: [String] = []

    /// The detection configuration, or nil with --no-detect. Refuses to start on any problem.
    func load() -> DetectionConfig? {
        if noDetect { return nil }
        let (root, sigma) = locate()
        var config: DetectionConfig
        do {
            config = try DetectionConfig.load(root: root, sigma: sigma, pins: pins)
        } catch {
            for line in error.errors { warn("invalid rules: \(line)") }
            Glibc.exit(2)
        }
        for entry in egressAllow where !config.egress.allow(entry) {
            fail("--egress-allow \(entry): neither a DNS name nor a CIDR block")
        }
        for entry in mcpServer {
            guard let address = EndpointText.address(entry) else { fail("--mcp-server \(entry): not an address") }
            config.mcpServers.append(address)
        }
        return config
    }

    /// The rules root and, for a single rule file, that file.
    func locate() -> (String, String?) {
        if let rules, RulesLocator.isDirectory(rules) { return (rules, nil) }
        guard let root = RulesLocator.defaultRoot() else {
            fail("cannot find the rules folder that ships with mcpsonar; give --rules PATH or set MCPSONAR_RULES")
        }
        if let rules {
            var s = stat()
            if stat(rules, &s) != 0 { fail("\(rules): no such rule file or folder") }
            return (root, rules)
        }
        return (root, nil)
    }
}

/// `mcpsonar rules check [PATH]`: validate rule files, every error with its file, line and reason.
struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with rule files.", subcommands: [Check.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a rules folder or Sigma rule file; print each problem as FILE:LINE:COLUMN: reason.")

        @Argument(help: ArgumentHelp("A rules folder or a Sigma rule file (default: the shipped rules).", valueName: "PATH"))
        var path: String?

        func run() throws {
            var options = DetectionOptions()
            options.rules = path
            let (root, sigma) = options.locate()
            do {
                let config = try DetectionConfig.load(root: root, sigma: sigma)
                let text = "\(sigma ?? root): OK: \(config.rules.rules.count) Sigma rules, \(config.secrets.patterns.count) secret patterns, \(config.catalogue.methods.count) methods in the catalogue\n"
                var bytes = Array(text.utf8)
                bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
            } catch {
                var bytes = Array((error.errors.joined(separator: "\n") + "\n").utf8)
                bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
                throw ExitCode(1)
            }
        }
    }
}

/// `mcpsonar pins -r CAPTURE`: the tool inventory a capture shows, as an approved-inventory file.
struct Pins: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the tool inventory seen in captures (server -> tool -> definition SHA-256) for --pins.")

    @Option(name: [.short, .customLong("read")], help: ArgumentHelp("Capture file (repeatable).", valueName: "FILE"))
    var read: [String] = []

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write the inventory to FILE ('-': standard output).", valueName: "FILE"))
    var output: String = "-"

    func validate() throws {
        if read.isEmpty { throw ValidationError("give at least one capture with -r FILE") }
    }

    func run() throws {
        let engine = Engine(config: EngineConfig(), sink: DiscardSink())
        do {
            _ = try Runner(engine: engine).replay(files: read, diagnostics: warn)
        } catch {
            fail("\(error)")
        }
        let sink: FileSink
        do {
            sink = output == "-" ? FileSink() : try FileSink(path: output, truncate: true)
        } catch {
            fail("\(error)")
        }
        sink.write(line: engine.pinsJSON())
        sink.close()
    }
}

/// Events are not wanted (`pins`): only the engine's state is.
final class DiscardSink: EventSink {
    func write(line: [UInt8]) {}
    func flush() {}
    func close() {}
}

/// `ADDR`, `ADDR:PORT`, `[V6]:PORT` → the address (the port does not matter for egress).
enum EndpointText {
    static func address(_ text: String) -> IPAddress? {
        var host = Substring(text)
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            host = host[host.index(after: host.startIndex)..<close]
        } else if host.filter({ $0 == ":" }).count == 1, let colon = host.firstIndex(of: ":") {
            host = host[..<colon]
        }
        if let v4 = parseV4(host) { return .v4(v4) }
        return parseV6(host)
    }

    private static func parseV4(_ s: Substring) -> UInt32? {
        let parts = s.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard let octet = UInt8(p) else { return nil }
            v = v << 8 | UInt32(octet)
        }
        return v
    }

    private static func parseV6(_ s: Substring) -> IPAddress? {
        let halves = s.components(separatedBy: "::")
        guard halves.count <= 2 else { return nil }
        func groups(_ part: String) -> [UInt16]? {
            if part.isEmpty { return [] }
            var out: [UInt16] = []
            for g in part.split(separator: ":", omittingEmptySubsequences: false) {
                guard g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        guard let head = groups(halves[0]) else { return nil }
        let tail = halves.count == 2 ? groups(halves[1]) : []
        guard let tail else { return nil }
        let missing = 8 - head.count - tail.count
        guard halves.count == 2 ? missing >= 1 : missing == 0 else { return nil }
        let all = head + [UInt16](repeating: 0, count: halves.count == 2 ? missing : 0) + tail
        var hi: UInt64 = 0, lo: UInt64 = 0
        for (i, g) in all.enumerated() {
            if i < 4 { hi = hi << 16 | UInt64(g) } else { lo = lo << 16 | UInt64(g) }
        }
        return .v6(hi, lo)
    }
}
