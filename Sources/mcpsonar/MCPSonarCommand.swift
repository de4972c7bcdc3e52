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
        subcommands: [Run.self, Bench.self, CorpusCommand.self, Rules.self, Pins.self, StressCommand.self],
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
            Outputs (-o, repeatable): '-' (standard output), a file (appended; reopened on SIGHUP),
            unix:PATH, unixgram:PATH, syslog://HOST[:PORT] (UDP), syslog+tcp://HOST[:PORT].
            Signals: SIGINT/SIGTERM stop (every flow is finished, final stats written); SIGHUP
            reopens output files and reloads the rules; SIGUSR1 writes a stats event.
            Events are JSON lines (Suricata EVE-style field names).
            """)

    @Option(name: [.short, .customLong("read")], help: ArgumentHelp("Read packets from a pcap or pcapng file (repeatable; read in order as one timeline).", valueName: "FILE"))
    var read: [String] = []

    @Option(name: [.short, .customLong("interface")], help: ArgumentHelp("Capture live from an interface (lo, any, eth0, ...).", valueName: "IFACE"))
    var interface: String?

    @Flag(name: [.customShort("D"), .customLong("list-interfaces")], help: "List the interfaces that can be captured on, and exit.")
    var listInterfaces = false

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Write events to SPEC (repeatable): '-' standard output, a file (appending), unix:PATH, unixgram:PATH, syslog://HOST[:PORT], syslog+tcp://HOST[:PORT].", valueName: "SPEC"))
    var output: [String] = []

    @Flag(name: .customLong("payloads"), help: "Include each message as compact JSON in its event (mcp.message).")
    var payloads = false

    @Option(name: .customLong("snaplen"), help: "Live capture: bytes captured per packet.")
    var snaplen: Int32 = 262_144

    @Flag(name: .customLong("promisc"), inversion: .prefixedNo, help: "Live capture: put the interface into promiscuous mode.")
    var promiscuous = true

    @Flag(name: .customLong("immediate"), inversion: .prefixedNo, help: "Live capture: hand each packet over as it arrives (libpcap immediate mode). --no-immediate lets the kernel batch packets into blocks handed over when full or after 10 ms: far more packets fit the same ring.")
    var immediate = true

    @Option(name: .customLong("buffer-size"), help: "Live capture: kernel capture buffer in MiB (default 64).")
    var bufferSizeMiB: Int32 = 64

    @Option(name: .customLong("max-flows"), help: "Flows tracked at once; the least recently active are evicted beyond it.")
    var maxFlows: Int = 500_000

    @Option(name: .customLong("stats-interval"), help: ArgumentHelp("Write a stats event every SECONDS (live: wall clock; replay: packet time).", valueName: "SECONDS"))
    var statsInterval: Double?

    @Option(name: .customLong("user"), help: ArgumentHelp("Once the capture is open, drop privileges to this user (as tcpdump -Z).", valueName: "USER"))
    var user: String?

    @Option(name: .customLong("group"), help: ArgumentHelp("With --user: the group to run as (default: the user's primary group).", valueName: "GROUP"))
    var group: String?

    @Flag(name: [.short, .customLong("quiet")], help: "No progress line and no start-up line on standard error.")
    var quiet = false

    @Option(name: .customLong("pcap-alerts"), help: ArgumentHelp("Write the packets of every flow that raised an alert to DIR/flow-<flow_id>.pcap.", valueName: "DIR"))
    var pcapAlerts: String?

    @Option(name: .customLong("pcap-alerts-max-mb"), help: "Total size of the --pcap-alerts files, in MB (default 1024).")
    var pcapAlertsMaxMB: Int = 1024

    @Option(name: .customLong("queue-events"), help: "Events that may wait for a slow output; beyond it they are dropped and counted (default 65536).")
    var queueEvents: Int = 65_536

    @Option(name: .customLong("workers"), help: ArgumentHelp("Threads that read flows (default: the number of cores). The MCP sessions, detection and output run in one more thread, in packet order: the events are the same for any number (only under pressure may other flows be evicted or shed: the flow and buffer caps are shared out).", valueName: "N"))
    var workers: Int?

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var limits: LimitOptions

    @Argument(help: ArgumentHelp("Live capture: a BPF filter expression, as for tcpdump.", valueName: "expression"))
    var filter: [String] = []

    func validate() throws {
        if listInterfaces { return }
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
        if let statsInterval, !(statsInterval > 0) { throw ValidationError("--stats-interval must be more than 0 seconds") }
        if group != nil && user == nil { throw ValidationError("--group needs --user") }
        if pcapAlertsMaxMB < 1 { throw ValidationError("--pcap-alerts-max-mb must be at least 1") }
        if queueEvents < 1 { throw ValidationError("--queue-events must be at least 1") }
        if let workers, workers < 1 || workers > 64 { throw ValidationError("--workers must be from 1 to 64") }
        if let workers, workers > 1, pcapAlerts != nil {
            throw ValidationError("--pcap-alerts runs with one worker (it keeps each flow's packets in capture order): leave out --workers or give --workers 1")
        }
    }

    func run() throws {
        if listInterfaces { return printInterfaces() }
        var config = EngineConfig()
        config.mcp.includePayloads = payloads
        config.flow.maxFlows = maxFlows
        config.output.maxQueuedEvents = queueEvents
        config.alertCapture.maxFileBytes = pcapAlertsMaxMB * 1_000_000
        limits.apply(to: &config)
        // Everything that can be checked as the starting user is checked before capturing.
        var detectionConfig = detection.load()
        let account = user.map { Privileges.resolve(user: $0, group: group) }
        var specs: [SinkSpec] = []
        for text in output.isEmpty ? ["-"] : output {
            do { specs.append(try SinkSpec.parse(text)) } catch { fail("\(error)") }
        }

        // Open the capture (needs root or CAP_NET_RAW), then drop privileges, then open the rest
        // as the user the sensor runs as, so what SIGHUP reopens later is known to work.
        var liveSource: PcapSource?
        if let interface {
            var options = LiveCaptureOptions()
            options.snaplen = snaplen
            options.promiscuous = promiscuous
            options.immediate = immediate
            if !immediate { options.readTimeoutMilliseconds = 10 }
            options.bufferSize = max(1, min(bufferSizeMiB, 2047)) << 20
            do {
                liveSource = try PcapSource.openLive(interface, options: options,
                                                     filter: filter.isEmpty ? nil : filter.joined(separator: " "))
            } catch {
                fail("\(error)")
            }
        }
        if let account {
            if let problem = Privileges.drop(to: account) { fail(problem) }
            if detectionConfig != nil { detectionConfig = detection.load(asUser: account.name) }
        }
        let asUser = account.map { " (as user \($0.name))" } ?? ""
        var sinks: [EventSink] = []
        for spec in specs {
            do { sinks.append(try spec.open()) } catch { fail("\(error)\(asUser)") }
        }
        var alertCapture: AlertCapture?
        if let pcapAlerts {
            do { alertCapture = try AlertCapture(directory: pcapAlerts, limits: config.alertCapture) } catch { fail("\(error)\(asUser)") }
        }

        // Live capture never waits for an output: a full queue drops (counted). A replay of files
        // to standard output or files writes directly; to sockets it waits, losing nothing.
        let threads = pcapAlerts != nil ? 1 : (workers ?? ParallelEngine.defaultWorkers)
        let direct = liveSource == nil && sinks.count == 1 && (specs[0].label == "file" || specs[0].label == "stdout")
        let queue: QueuedSink? = direct ? nil : QueuedSink(sinks: zip(specs, sinks).map { ($0.label, $1) },
                                                             maxEvents: config.output.maxQueuedEvents, maxBytes: config.output.maxQueuedBytes,
                                                             overflow: liveSource == nil ? .block : .drop)
        let sink: EventSink = queue ?? sinks[0]

        config.detection = detectionConfig
        let engine = makePipeline(config: config, sink: sink, workers: threads)
        (engine as? Engine)?.alertCapture = alertCapture
        if let queue { engine.outputStats = { queue.stats } }
        let runner = Runner(engine: engine)

        var control = RunControl()
        control.handlesSignals = true
        control.statsInterval = statsInterval
        let detectionOptions = detection
        let user = account?.name
        control.hangup = {
            engine.reopenOutputs()
            guard engine.config.detection != nil else { return }
            switch detectionOptions.tryLoad(asUser: user) {
            case .success(let new):
                if let new, engine.reloadDetection(new) {
                    warn("SIGHUP: output reopened; rules reloaded (\(new.rules.rules.count) Sigma rules)")
                }
            case .failure(let problems):
                warn("SIGHUP: output reopened; rules reload refused, the rules in use stay:")
                for line in problems.errors { warn("invalid rules: \(line)") }
            }
        }

        let outcome: RunOutcome
        if let liveSource {
            if !quiet { warn("listening on \(liveSource.name), link type \(liveSource.linkType), snaplen \(snaplen)") }
            outcome = runner.live(source: liveSource, control: control, diagnostics: warn)
        } else {
            if !quiet && ReplayProgress.standardErrorIsTerminal {
                var total: Int64 = 0
                for path in read {
                    var st = stat()
                    if stat(path, &st) == 0 { total += Int64(st.st_size) }
                }
                control.progress = ReplayProgress(totalBytes: total)
            }
            do {
                outcome = try runner.replay(files: read, control: control, diagnostics: warn)
            } catch {
                sink.close()
                fail("\(error)")
            }
        }
        alertCapture?.close()
        sink.close()
        switch outcome {
        case .completed: break
        case .damaged: throw ExitCode(1)
        case .interrupted:
            warn("interrupted: the replay stopped before the end of its input; events up to that point were written")
            throw ExitCode(1)
        }
    }

    /// `--list-interfaces`: one interface a line, as tcpdump -D does, with flags and addresses.
    private func printInterfaces() {
        let list: [InterfaceInfo]
        do { list = try PcapSource.interfaceDetails() } catch { fail("cannot list interfaces: \(error)") }
        var text = ""
        for (i, dev) in list.enumerated() {
            var flags: [String] = []
            if dev.isUp { flags.append("Up") }
            if dev.isRunning { flags.append("Running") }
            if dev.isLoopback { flags.append("Loopback") }
            text += "\(i + 1).\(dev.name)"
            if let d = dev.description, !d.isEmpty { text += " (\(d))" }
            text += " [\(flags.joined(separator: ", "))]"
            if !dev.addresses.isEmpty { text += " " + dev.addresses.joined(separator: " ") }
            text += "\n"
        }
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
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

    @Option(name: .customLong("workers"), help: ArgumentHelp("Flow-reading threads, as for the sensor (default 1: the figures of one core).", valueName: "N"))
    var workers = 1

    @Option(name: .customLong("secrets-strings"), help: ArgumentHelp("Time the secret scanner alone on a strings file (scripts/bench/secret-scan).", valueName: "FILE", visibility: .hidden))
    var secretsStrings: String?

    @OptionGroup var detection: DetectionOptions
    @OptionGroup var limits: LimitOptions

    func validate() throws {
        if read.isEmpty && secretsStrings == nil { throw ValidationError("give at least one capture with -r FILE") }
        if passes < 1 { throw ValidationError("--passes must be at least 1") }
        if workers < 1 || workers > 64 { throw ValidationError("--workers must be from 1 to 64") }
    }

    func run() throws {
        if let secretsStrings {
            guard let secrets = detection.load()?.secrets else { fail("--secrets-strings needs the secret rules (no --no-detect)") }
            SecretsBench.run(path: secretsStrings, scanner: secrets)
            return
        }
        var config = EngineConfig()
        config.mcp.includePayloads = payloads
        limits.apply(to: &config)
        config.detection = detection.load()
        let report: BenchmarkReport
        do {
            report = try Benchmark.run(files: read, passes: passes, config: config, workers: workers)
        } catch {
            fail("\(error)")
        }
        func f(_ v: Double, _ places: Int = 1) -> String {
            let scale = pow10(places)
            return String(Double((v * scale).rounded()) / scale)
        }
        // With workers, each thread's share: the reader is this thread.
        let threads = report.workerCPUSeconds.isEmpty ? "" : "CPU time by thread: reader \(f(report.pipelineCPUSeconds, 3)) s, "
            + report.workerCPUSeconds.enumerated().map { "worker \($0.offset + 1) \(f($0.element, 3)) s" }.joined(separator: ", ")
            + ", session \(f(report.sessionCPUSeconds, 3)) s\n"
        let text = """
            files: \(read.joined(separator: " ")) x \(report.passes) passes, \(workers) worker\(workers == 1 ? "" : "s"), detection \(config.detection == nil ? "off" : "on (\(config.detection?.rules.rules.count ?? 0) Sigma rules)")
            input: \(report.packets) packets, \(report.bytes) bytes
            libpcap read floor: \(f(report.floorMBps)) MB/s, \(f(report.floorPacketsPerSecond, 0)) packets/s (\(f(report.floorSeconds, 3)) s)
            mcpsonar pipeline:  \(f(report.pipelineMBps)) MB/s, \(f(report.packetsPerSecond, 0)) packets/s (\(f(report.pipelineSeconds, 3)) s)
            events: \(report.events) (\(f(report.eventsPerSecond, 0))/s), mcp \(report.mcpEvents) (\(f(report.mcpEventsPerSecond, 0))/s), alerts \(report.alerts)
            pipeline / floor:   \(f(100 * report.ratio))%
            CPU time (this thread): floor \(f(report.floorCPUSeconds, 3)) s, pipeline \(f(report.pipelineCPUSeconds, 3)) s = \(f(report.pipelineCPUMBps)) MB/s, \(f(100 * report.floorCPUSeconds / max(report.pipelineCPUSeconds, 1e-9)))% of the floor
            CPU time (all threads): pipeline \(f(report.pipelineProcessCPUSeconds, 3)) s
            \(threads)peak resident memory: \(f(Double(report.peakResidentBytes) / 1_048_576)) MiB

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
    /// `asUser`: the rules are read again after dropping privileges; problems name that user.
    func load(asUser user: String? = nil) -> DetectionConfig? {
        switch tryLoad(asUser: user) {
        case .success(let config): return config
        case .failure(let problems):
            for line in problems.errors { warn("invalid rules\(user.map { " (as user \($0))" } ?? ""): \(line)") }
            Glibc.exit(2)
        }
    }

    /// The same without exiting: for SIGHUP, where a bad rule set is refused and the old one stays.
    func tryLoad(asUser user: String? = nil) -> Result<DetectionConfig?, DetectionLoadError> {
        if noDetect { return .success(nil) }
        let root: String, sigma: String?
        switch locateResult() {
        case .success(let found): (root, sigma) = found
        case .failure(let problem): return .failure(problem)
        }
        var config: DetectionConfig
        do {
            config = try DetectionConfig.load(root: root, sigma: sigma, pins: pins)
        } catch {
            return .failure(error)
        }
        for entry in egressAllow where !config.egress.allow(entry) {
            return .failure(DetectionLoadError(errors: ["--egress-allow \(entry): neither a DNS name nor a CIDR block"]))
        }
        for entry in mcpServer {
            guard let address = EndpointText.address(entry) else {
                return .failure(DetectionLoadError(errors: ["--mcp-server \(entry): not an address"]))
            }
            config.mcpServers.append(address)
        }
        return .success(config)
    }

    /// The rules root and, for a single rule file, that file.
    func locate() -> (String, String?) {
        switch locateResult() {
        case .success(let found): return found
        case .failure(let problem): fail(problem.description)
        }
    }

    func locateResult() -> Result<(String, String?), DetectionLoadError> {
        if let rules, RulesLocator.isDirectory(rules) { return .success((rules, nil)) }
        guard let root = RulesLocator.defaultRoot() else {
            return .failure(DetectionLoadError(errors: ["cannot find the rules folder that ships with mcpsonar; give --rules PATH or set MCPSONAR_RULES"]))
        }
        if let rules {
            var s = stat()
            if stat(rules, &s) != 0 {
                let reason = errno == EACCES ? "permission denied" : "no such rule file or folder"
                return .failure(DetectionLoadError(errors: ["\(rules): \(reason)"]))
            }
            return .success((root, rules))
        }
        return .success((root, nil))
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
