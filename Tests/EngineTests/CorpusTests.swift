import Crypto
import Foundation
import SonarDetect
import SonarEngine
import Testing

/// `mcpsonar corpus`: the benchmark capture is deterministic, and the sensor finds in it exactly
/// the MCP messages of the fixture copies it embeds.
@Suite struct CorpusTests {
    static func generate(seed: UInt64, to path: String) throws -> CorpusReport {
        var options = CorpusOptions(size: 3_000_000, seed: seed, fixtures: Corpus.fixtureFiles(in: Repo.fixtures.path))
        options.concurrentFlows = 100
        return try Corpus.generate(options, to: path)
    }

    static func sha256(_ path: String) throws -> String {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
    }

    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-corpus-\(getpid())-\(name).pcap").path
    }

    @Test func sameSeedSameBytes() throws {
        let a = Self.temporary("a"), b = Self.temporary("b"), c = Self.temporary("c")
        defer { for p in [a, b, c] { try? FileManager.default.removeItem(atPath: p) } }
        let report = try Self.generate(seed: 1, to: a)
        #expect(try Self.sha256(a) == "c4e83b38ad94ec4eee008f7b2b020eaae5740111732fcb353c6f66a840a8aa4d")
        #expect(report.fileBytes == 3_012_015)
        #expect(report.packets == 9193)
        #expect(report.copies == [6, 6, 5, 5, 5, 5, 5, 5, 5, 5])
        #expect(report.connections == 352)
        #expect(report.tlsFlows == 4)
        #expect(report.httpFlows == 8)
        #expect(try Self.generate(seed: 1, to: b) == report)
        #expect(try Self.sha256(b) == Self.sha256(a))
        _ = try Self.generate(seed: 2, to: c)
        #expect(try Self.sha256(c) != Self.sha256(a))
    }

    @Test func sensorFindsEveryEmbeddedMessage() throws {
        let path = Self.temporary("events")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let report = try Self.generate(seed: 1, to: path)
        // Each fixture's messages, as its golden event file counts them.
        var expected = 0
        for (file, copies) in zip(Corpus.fixtureFiles(in: Repo.fixtures.path), report.copies) {
            let name = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
            let golden = try String(contentsOfFile: Repo.fixture("expected/\(name).events.jsonl"), encoding: .utf8)
            expected += copies * golden.split(separator: "\n").filter { $0.contains("\"event_type\":\"mcp\"") }.count
        }
        #expect(expected == 1469)
        let lines = try runSensor([path])
        let types = lines.map { jsonObject($0)["event_type"] as? String ?? "?" }
        #expect(types.filter { $0 == "mcp" }.count == expected)
        #expect(types.filter { $0 == "flow" }.count == report.connections)
        let stats = jsonObject(lines.last ?? "")["stats"] as? [String: Any] ?? [:]
        let reassembly = stats["reassembly"] as? [String: Any] ?? [:]
        #expect(reassembly["gaps"] as? Int == 0)
        let counters = stats["counters"] as? [String: Any] ?? [:]
        // Every TLS connection is recognised by its ClientHello and bypassed.
        #expect((counters["app"] as? [String: Any])?["bypass_tls"] as? Int == report.tlsFlows)
    }

    /// `--open-flows`: connections opened first and left open, all in progress at once; the
    /// flow table holds them up to its cap and evicts the rest (the memory bound of issue 7).
    @Test func openFlowsAreAllInProgressAtOnceAndTheTableCapsThem() throws {
        let path = Self.temporary("open")
        defer { try? FileManager.default.removeItem(atPath: path) }
        var options = CorpusOptions(size: 1, seed: 1, fixtures: Corpus.fixtureFiles(in: Repo.fixtures.path))
        options.openFlows = 2_000
        let report = try Corpus.generate(options, to: path)
        #expect(report.openFlows == 2_000)
        #expect(report.packets == 8_150) // four packets for each open connection, and one fixture copy
        #expect(report.openBytes == 2_000 * (58 + 58 + 54 + 139)) // SYN and SYN-ACK with MSS, ACK, the 85-byte head

        func peakActive(maxFlows: Int) throws -> (peak: Int, final: [String: Any]) {
            let sink = MemorySink()
            var config = EngineConfig()
            config.flow.maxFlows = maxFlows
            var control = RunControl()
            control.statsInterval = 0.001
            _ = try Runner(engine: Engine(config: config, sink: sink)).replay(files: [path], control: control, diagnostics: { _ in })
            let stats = sink.lines.filter { $0.contains(#""event_type":"stats""#) }.map { jsonObject($0)["stats"] as? [String: Any] ?? [:] }
            let peak = stats.compactMap { ($0["flows"] as? [String: Any])?["active"] as? Int }.max() ?? 0
            return (peak, stats.last ?? [:])
        }
        let all = try peakActive(maxFlows: 500_000)
        #expect(all.peak >= 2_000)
        #expect((all.final["flows"] as? [String: Any])?["evicted"] as? Int == 0)
        // Each open connection's unfinished request head is read to the end of the capture.
        #expect(((all.final["counters"] as? [String: Any])?["http"] as? [String: Any])?["truncated_message"] as? Int == 2_001)
        let capped = try peakActive(maxFlows: 500)
        #expect(capped.peak == 500)
        #expect((capped.final["flows"] as? [String: Any])?["evicted"] as? Int == 5_339)
    }
}

/// `mcpsonar bench` counts what it reads: the floor's packets and bytes are the passes' (not
/// the untimed read before them, which puts the files in the page cache for both measurements),
/// and the pipeline's events are the passes' events.
@Test func benchmarkCountsItsPassesOnly() throws {
    // A plain session, and one whose messages raise alerts, with the repository's rules as
    // `mcpsonar bench` loads them: the benchmark's sink counts both kinds from the lines the
    // session stage writes, as a sink that keeps them would.
    var config = EngineConfig()
    config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    for (name, mcpLines, alertLines) in [("mcp1-streamable.pcap", 35, 2), ("detect/credential-leak.pcap", 15, 5)] {
        let file = Repo.fixture(name)
        let once = try Benchmark.readAll([file])
        #expect(once.packets > 0 && once.bytes > once.packets)
        let sink = MemorySink()
        _ = try Runner(engine: Engine(config: config, sink: sink)).replay(files: [file], diagnostics: { _ in })
        let mcp = sink.lines.filter { $0.contains("\"event_type\":\"mcp\"") }.count
        let alerts = sink.lines.filter { $0.contains("\"event_type\":\"alert\"") }.count
        #expect(mcp == mcpLines && alerts == alertLines, "\(name): \(mcp) mcp, \(alerts) alerts")
        for passes in [1, 3] {
            let report = try Benchmark.run(files: [file], passes: passes, config: config)
            #expect(report.packets == once.packets * UInt64(passes))
            #expect(report.bytes == once.bytes * UInt64(passes))
            #expect(report.events == sink.lines.count * passes)
            #expect(report.mcpEvents == mcp * passes)
            #expect(report.alerts == alerts * passes)
            #expect(report.floorSeconds > 0 && report.pipelineSeconds > 0)
        }
    }
}

/// With workers, `mcpsonar bench` says where the CPU time went: each worker's thread and the
/// session thread report theirs once they end (the reader's is the benchmarking thread's), and
/// together they are the process's time. With one worker there are no such threads.
@Test func benchmarkSharesTheCPUTimeOutByThread() throws {
    let file = Repo.fixture("mcp1-streamable.pcap")
    let one = try Benchmark.run(files: [file], passes: 1, config: EngineConfig())
    #expect(one.workerCPUSeconds.isEmpty && one.sessionCPUSeconds == 0)
    let two = try Benchmark.run(files: [file], passes: 2, config: EngineConfig(), workers: 2)
    #expect(two.workerCPUSeconds.count == 2)
    #expect(two.workerCPUSeconds.allSatisfy { $0 > 0 } && two.sessionCPUSeconds > 0)
    let threads = two.pipelineCPUSeconds + two.workerCPUSeconds.reduce(0, +) + two.sessionCPUSeconds
    #expect(threads <= two.pipelineProcessCPUSeconds + 0.005)
}
