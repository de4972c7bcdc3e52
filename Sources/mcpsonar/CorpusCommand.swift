import ArgumentParser
import SonarEngine
#if canImport(Glibc)
import Glibc
#endif

/// `mcpsonar corpus`: writes the deterministic benchmark capture (docs/ARCHITECTURE.md,
/// README "Benchmark"): real MCP sessions from the fixtures, re-addressed and interleaved with
/// TLS and binary HTTP downloads. Same options, same bytes.
struct CorpusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "corpus",
        abstract: "Write a deterministic mixed capture for `mcpsonar bench`: MCP sessions from the fixtures among TLS and binary HTTP bulk traffic.")

    @Option(name: .customLong("size"), help: ArgumentHelp("Size of the file: bytes, or with a unit (KB, MB, GB: powers of 1000; KiB, MiB, GiB).", valueName: "SIZE"))
    var size: String = "300MB"

    @Option(name: .customLong("seed"), help: "Seed of the generator: the same seed gives the same bytes.")
    var seed: UInt64 = 1

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("The pcap file to write.", valueName: "FILE"))
    var output: String

    @Option(name: .customLong("fixtures"), help: ArgumentHelp("Folder whose top-level *.pcap are the MCP sessions to embed.", valueName: "DIR"))
    var fixtures: String = "Fixtures"

    @Option(name: .customLong("flows"), help: "Flows in progress at once (their packets interleave).")
    var flows: Int = 1000

    @Option(name: .customLong("mcp-share"), help: "Share of the bytes that are MCP sessions, in percent.")
    var mcpShare: Int = 33

    @Option(name: .customLong("open-flows"), help: "Connections opened first and left open (handshake, unfinished request head), on top of the mix: 1000000 for the memory bound under a million concurrent flows.")
    var openFlows: Int = 0

    func validate() throws {
        if CorpusCommand.parseSize(size) == nil { throw ValidationError("--size: '\(size)' is not a size (300MB, 64MiB, 1000000)") }
        if flows < 1 || flows > 1_000_000 { throw ValidationError("--flows must be 1 to 1000000") }
        if mcpShare < 0 || mcpShare > 100 { throw ValidationError("--mcp-share must be 0 to 100") }
        if openFlows < 0 || openFlows > 10_000_000 { throw ValidationError("--open-flows must be 0 to 10000000") }
    }

    static func parseSize(_ text: String) -> Int? {
        let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                      ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
                                      ("K", 1_000), ("M", 1_000_000), ("G", 1_000_000_000), ("B", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let n = Int(text.dropLast(suffix.count)), n >= 0, n <= Int.max / scale else { return nil }
            return n * scale
        }
        guard let n = Int(text), n >= 0 else { return nil }
        return n
    }

    func run() throws {
        guard let bytes = CorpusCommand.parseSize(size) else { throw ExitCode(2) }
        let files = Corpus.fixtureFiles(in: fixtures)
        if files.isEmpty { fail("no *.pcap in \(fixtures)") }
        var options = CorpusOptions(size: bytes, seed: seed, fixtures: files)
        options.concurrentFlows = flows
        options.mcpPerMille = mcpShare * 10
        options.openFlows = openFlows
        let start = monotonicSeconds()
        let r: CorpusReport
        do {
            r = try Corpus.generate(options, to: output)
        } catch {
            fail("\(error)")
        }
        let seconds = monotonicSeconds() - start
        let frames = max(r.mcpBytes + r.tlsBytes + r.httpBytes + r.openBytes, 1)
        func pct(_ b: Int) -> String { String(Double(b * 1000 / frames) / 10) + "%" }
        var lines = [
            "wrote \(output): \(r.fileBytes) bytes, \(r.packets) packets, \(r.connections) TCP connections in \(String(Double(Int(seconds * 100)) / 100)) s",
            "MCP sessions: \(r.copies.reduce(0, +)) fixture copies, \(r.mcpBytes) frame bytes (\(pct(r.mcpBytes)))",
            "TLS on 443: \(r.tlsFlows) connections, \(r.tlsBytes) frame bytes (\(pct(r.tlsBytes)))",
            "HTTP downloads on 80: \(r.httpFlows) connections, \(r.httpBytes) frame bytes (\(pct(r.httpBytes)))",
        ]
        if r.openFlows > 0 {
            lines.append("connections left open on 198.18.0.1:8080: \(r.openFlows), \(r.openBytes) frame bytes (\(pct(r.openBytes)))")
        }
        lines.append("copies per fixture:")
        for (file, n) in zip(files, r.copies) { lines.append("  \(n) \(file)") }
        var text = Array((lines.joined(separator: "\n") + "\n").utf8)
        text.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
    }
}
