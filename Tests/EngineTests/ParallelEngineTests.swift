import Foundation
import SonarCapture
import SonarCore
import SonarDecode
import SonarDetect
@testable import SonarEngine
import Testing

/// A line with the allocator's figures zeroed.
func comparable(_ line: String) -> String {
    var text = withoutMemory(line)
    if let r = text.range(of: #""app_buffered_bytes":[0-9]+"#, options: .regularExpression) {
        text.replaceSubrange(r, with: #""app_buffered_bytes":0"#)
    }
    return text
}

/// `--workers N`: the flows are spread over N threads, and the events are exactly those of one
/// worker, in the same order. Two figures of the stats event are left out of the comparison
/// because they measure the allocator, not the traffic:
/// - `memory_bytes` (resident memory);
/// - `app_buffered_bytes` (what the parsers' buffers reserved: an array's capacity is what
///   malloc gave, which depends on what each thread allocated before).
@Suite struct ParallelEngineTests {
    /// The events of a replay with `workers` threads (1: `Engine`), handing over every `batch`
    /// timeline positions.
    static func run(_ files: [String], workers: Int, batch: Int = 1024, partBytes: Int = 2 << 20, detection: Bool = true,
                    statsInterval: Double? = nil, adjust: (inout EngineConfig) -> Void = { _ in }) throws -> [String] {
        let sink = MemorySink()
        var config = EngineConfig()
        if detection { config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path) }
        adjust(&config)
        let engine: any PacketPipeline
        if workers == 1 {
            engine = Engine(config: config, sink: sink)
        } else {
            engine = try #require(ParallelEngine(config: config, sink: sink, workers: workers, batchPackets: batch,
                                                 partBytes: partBytes))
        }
        var control = RunControl()
        control.statsInterval = statsInterval
        _ = try Runner(engine: engine).replay(files: files, control: control, diagnostics: { _ in })
        return sink.lines.map(comparable)
    }

    static var everyCapture: [String] {
        var files = Repo.originals().map(Repo.fixture)
        for folder in ["crafted", "detect", "egress", "evasion"] {
            let dir = Repo.fixtures.appendingPathComponent(folder)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            files += names.filter { $0.hasSuffix(".pcap") }.sorted().map { dir.appendingPathComponent($0).path }
        }
        return files
    }

    static func count(_ lines: [String], _ needle: String) -> Int { lines.filter { $0.contains(needle) }.count }

    @Test func everyFixtureGivesTheSameEventsWithTwoAndThreeWorkers() throws {
        let files = Self.everyCapture
        #expect(files.count == 40)
        var mcp = 0, alerts = 0
        for file in files {
            let one = try Self.run([file], workers: 1)
            // Batches of 1 and 7 positions put batch edges everywhere; 1024 is the default.
            // Parts of 1 byte: every payload is handed over on its own, mid-batch.
            for (workers, batch, part) in [(2, 1, 8 << 20), (2, 1024, 8 << 20), (3, 7, 8 << 20), (2, 1024, 1)] {
                let many = try Self.run([file], workers: workers, batch: batch, partBytes: part)
                #expect(many == one, "\(file): \(workers) workers, batches of \(batch), parts of \(part) bytes")
            }
            mcp += Self.count(one, #""event_type":"mcp""#)
            alerts += Self.count(one, #""event_type":"alert""#)
        }
        // The comparison covers real work: every fixture's messages and alerts.
        #expect(mcp == 797)
        #expect(alerts == 114)
    }

    /// All the captures as one timeline with one-second idle timeouts: flows time out between
    /// and inside the captures, at the same packet and in the same order as in one table.
    @Test func flowsTimeOutAtTheSamePacketWithAnyNumberOfWorkers() throws {
        let files = Repo.originals().map(Repo.fixture) + ["detect/rug-pull.pcap", "detect/credential-leak.pcap"].map(Repo.fixture)
        func short(_ c: inout EngineConfig) {
            c.flow.newTimeoutSeconds = 1
            c.flow.establishedTimeoutSeconds = 1
            c.flow.closedTimeoutSeconds = 1
        }
        let one = try Self.run(files, workers: 1, statsInterval: 0.5, adjust: short)
        #expect(Self.count(one, #""reason":"timeout""#) == 4)
        #expect(Self.count(one, #""event_type":"stats""#) == 8)
        for (workers, batch) in [(2, 3), (4, 64)] {
            #expect(try Self.run(files, workers: workers, batch: batch, statsInterval: 0.5, adjust: short) == one)
        }
    }

    /// The benchmark mix: a thousand interleaved flows, bulk TLS and HTTP, every fixture.
    @Test func theBenchmarkCorpusGivesTheSameEvents() throws {
        let path = CorpusTests.temporary("parallel")
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try CorpusTests.generate(seed: 1, to: path)
        let one = try Self.run([path], workers: 1)
        #expect(Self.count(one, #""event_type":"mcp""#) == 1_469)
        #expect(try Self.run([path], workers: 2) == one)
        #expect(try Self.run([path], workers: 4, batch: 100) == one)
        #expect(try Self.run([path], workers: 2, partBytes: 4096) == one)
        #expect(try Self.run([path], workers: 2, detection: false) == Self.run([path], workers: 1, detection: false))
    }

    /// Both directions of a connection go to one worker, and connections spread evenly.
    @Test func theShardHashIsSymmetricAndSpreadsConnections() {
        var perWorker = [0, 0, 0, 0]
        var state: UInt64 = 0x1234_5678
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        for i in 0..<10_000 {
            // Loopback-like traffic: one address pair, ports varying (the case an address hash fails).
            let client = i % 2 == 0 ? IPAddress.v4(0x7F00_0001) : .v4(UInt32(truncatingIfNeeded: next()))
            let server = i % 2 == 0 ? IPAddress.v4(0x7F00_0001) : .v6(next(), next())
            let clientPort = UInt16(truncatingIfNeeded: 32768 + next() % 28000), serverPort: UInt16 = 8000
            let there = DecodedPacket(timestamp: .zero, src: client, dst: server, transport: .tcp, srcPort: clientPort,
                                      dstPort: serverPort, payload: UnsafeRawBufferPointer(start: nil, count: 0))
            let back = DecodedPacket(timestamp: .zero, src: server, dst: client, transport: .tcp, srcPort: serverPort,
                                     dstPort: clientPort, payload: UnsafeRawBufferPointer(start: nil, count: 0))
            let w = ParallelEngine.worker(for: there, of: 4)
            #expect(ParallelEngine.worker(for: back, of: 4) == w)
            perWorker[w] += 1
        }
        for n in perWorker { #expect(n > 2_200 && n < 2_800, "\(perWorker)") }
    }

    /// The command line: `--workers` gives the same events; `--pcap-alerts` keeps one worker.
    @Test func theCommandLineGivesTheSameEventsForAnyWorkers() throws {
        let file = Repo.fixture("detect/credential-leak.pcap")
        let one = try runBinary(["-q", "-r", file, "--workers", "1"])
        let two = try runBinary(["-q", "-r", file, "--workers", "2"])
        #expect(one.status == 0 && two.status == 0)
        func events(_ text: String) -> [String] { text.split(separator: "\n").map { comparable(String($0)) } }
        // Every line, the final stats event included (its resident memory aside).
        #expect(events(one.stdout).count == 31)
        #expect(events(two.stdout) == events(one.stdout))
        let refused = try runBinary(["-q", "-r", file, "--workers", "2", "--pcap-alerts", "/tmp"])
        #expect(refused.status == 64)
        #expect(refused.stderr.contains("--pcap-alerts runs with one worker"))
        #expect(try runBinary(["-q", "-r", file, "--workers", "0"]).status == 64)
    }

    /// Packet time that goes backwards (captures read out of order, a clock step): flows still
    /// time out at the same packet and in the same order with any number of workers.
    @Test func packetTimeGoingBackwardsGivesTheSameEvents() throws {
        // Raw IPv4 (link type 101) SYNs from many clients, times jumping back and forth by more
        // than the 60 s timeout of connections without a handshake.
        func syn(client: UInt32, port: UInt16) -> [UInt8] {
            var p = [UInt8](repeating: 0, count: 40)
            p[0] = 0x45; p[3] = 40; p[8] = 64; p[9] = 6
            for (i, b) in [UInt8(client >> 24), UInt8(client >> 16 & 0xFF), UInt8(client >> 8 & 0xFF), UInt8(client & 0xFF)].enumerated() {
                p[12 + i] = b
            }
            p[16] = 10; p[17] = 0; p[18] = 0; p[19] = 1
            p[20] = UInt8(port >> 8); p[21] = UInt8(port & 0xFF); p[22] = 0x1F; p[23] = 0x90
            p[32] = 0x50; p[33] = 0x02; p[34] = 0xFF; p[35] = 0xFF
            return p
        }
        var state: UInt64 = 11
        func next() -> Int64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int64(state >> 20)
        }
        // The clock moves forward 0-40 s a packet; one packet in four is stamped 100-900 s in the
        // past. A table's sweep stops at the first flow not yet idle: a flow stamped in the past
        // behind it must not depend on which other flows share its table.
        var clock: Int64 = 1_000_000_000_000
        var packets: [(Int64, [UInt8])] = []
        for i in 0..<400 {
            clock += next() % 40_000_000
            let time = i % 4 == 3 ? clock - 100_000_000 - next() % 800_000_000 : clock
            packets.append((time, syn(client: 0x0A00_0000 + UInt32(i % 50), port: UInt16(40_000 + i % 11))))
        }
        func run(_ workers: Int) throws -> [String] {
            let sink = MemorySink()
            let engine: any PacketPipeline
            if workers == 1 {
                engine = Engine(config: EngineConfig(), sink: sink)
            } else {
                engine = try #require(ParallelEngine(config: EngineConfig(), sink: sink, workers: workers, batchPackets: 5))
            }
            for (t, bytes) in packets {
                bytes.withUnsafeBytes { raw in
                    engine.process(CapturedPacket(timestamp: Timestamp(microseconds: t), bytes: raw, wireLength: raw.count),
                                   linkType: 101)
                }
            }
            engine.finish()
            return sink.lines.map(comparable)
        }
        let one = try run(1)
        #expect(Self.count(one, #""reason":"timeout""#) > 20)
        #expect(try run(2) == one)
        #expect(try run(3) == one)
    }

    /// A process that may not start its threads (a systemd TasksMax, a container's pids limit,
    /// RLIMIT_NPROC) runs with one worker and gives the same events; it used to be stopped by
    /// libdispatch freeing the hand-over queues' semaphores. Run as `nobody`, for whom the
    /// limit counts (root's does not).
    @Test func aProcessThatCannotStartItsThreadsRunsWithOneWorker() throws {
        let dir = try temporaryDirectory("threads")
        defer { try? FileManager.default.removeItem(at: dir) }
        let binary = dir.appendingPathComponent("mcpsonar").path
        let capture = dir.appendingPathComponent("capture.pcap").path
        try FileManager.default.copyItem(atPath: Repo.binary, toPath: binary)
        try FileManager.default.copyItem(atPath: Repo.fixture("mcp1-streamable.pcap"), toPath: capture)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: dir.path)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: binary)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: capture)
        let one = try runBinary(["-q", "--no-detect", "-r", capture, "--workers", "1"])
        #expect(one.status == 0)
        for limit in [1, 2, 3, 4, 5] {
            let limited = try runBinary(via: "/usr/sbin/runuser", ["-u", "nobody", "--", "/bin/bash", "-c",
                                                                   "ulimit -u \(limit); exec \(binary) -q --no-detect -r \(capture) --workers 4"])
            #expect(limited.status == 0, "ulimit -u \(limit): \(limited.stderr)")
            #expect(limited.stdout.split(separator: "\n").map { comparable(String($0)) }
                        == one.stdout.split(separator: "\n").map { comparable(String($0)) })
        }
    }
}
