import Foundation
import SonarCore
import Testing
@testable import SonarDetect
@testable import SonarEngine

/// Memory under attack (issue 8, part 4): generated hostile traffic through the whole engine.
/// The engine's own accounting is checked exactly in-process; the process's resident memory is
/// measured in a separate `mcpsonar stress` process, so other tests running beside these do not
/// blur it. Counts are small enough for a debug build; docs/limits.md has the million-packet
/// release runs (`mcpsonar stress --count 1000000`).
struct MemoryUnderAttackTests {
    static func config(_ edit: (inout EngineConfig) -> Void = { _ in }) throws -> EngineConfig {
        var c = EngineConfig()
        c.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
        edit(&c)
        return c
    }

    @Test func synFloodKeepsTheFlowTableAtItsCapWithOneAlert() throws {
        let c = try Self.config { $0.flow.maxFlows = 10_000 }
        let r = Stress.run(.synFlood, count: 100_000, config: c)
        #expect(r.heldAfterFinish == 0)
        #expect(r.packets == 100_000)
        #expect(r.peakFlows == 10_000)
        #expect(r.flowsEvicted == 90_000)
        #expect(r.counters == ["flow.evicted": 90_000])
        // One second of packet time: one alert, not ninety thousand.
        #expect(r.alerts == ["protocol.flow-table-full": 1])
        #expect(r.peakPendingBytes == 0 && r.peakAppBufferedBytes == 0)
    }

    @Test func outOfOrderFloodStaysUnderTheReassemblyCaps() throws {
        let c = try Self.config()
        let r = Stress.run(.outOfOrder, count: 20_000, config: c)
        #expect(r.heldAfterFinish == 0)
        #expect(r.packets == 20_003)
        // Never more than the segment cap (2048 of 1400 bytes), far under the byte caps.
        #expect(r.peakPendingBytes <= 2048 * 1400)
        #expect(r.peakPendingBytes <= c.flow.reassembly.maxPendingBytesPerDirection)
        #expect(r.counters["tcp.pending_limit"] == 18)
        #expect(r.counters["http.gap"] == 20_000)
        #expect(r.alerts == ["protocol.reassembly-limit": 1])
    }

    @Test func slowLorisHeadsStayUnderTheBufferBudget() throws {
        let c = try Self.config { $0.maxAppBufferedBytesTotal = 64 << 10 }
        let r = Stress.run(.slowLoris, count: 100_000, connections: 1000, config: c)
        #expect(r.heldAfterFinish == 0)
        #expect(r.peakFlows == 1000)
        #expect(r.peakAppBufferedBytes <= 64 << 10)
        // Buffers are counted by the capacity the allocator gave them, which depends on the heap
        // (other tests run in this process): which connection is shed first varies, but every
        // connection is either shed or still open with its head unfinished at the end.
        let shed = r.counters["app.buffer_budget_shed"] ?? 0
        #expect(shed > 0)
        #expect(shed + (r.counters["http.truncated_message"] ?? 0) == 1000)
        #expect(r.alerts == ["protocol.buffer-budget-full": 1])
    }

    @Test func slowLorisHeadsStopAtTheHeaderLimit() throws {
        let c = try Self.config { $0.http.maxHeaderBytes = 1024 }
        let r = Stress.run(.slowLoris, count: 300_000, connections: 200, config: c)
        #expect(r.heldAfterFinish == 0)
        #expect(r.counters["http.header_too_large"] == 200)
        // Buffers are counted by capacity, which grows by doubling: at most twice each head.
        #expect(r.peakAppBufferedBytes <= 200 * 2 * 1024)
        #expect(r.alerts.isEmpty) // no MCP seen on these connections or their server
    }

    @Test func slowBodiesStayUnderTheBufferBudget() throws {
        let c = try Self.config { $0.maxAppBufferedBytesTotal = 8 << 20 }
        let r = Stress.run(.slowBody, count: 20_000, connections: 200, config: c)
        #expect(r.heldAfterFinish == 0)
        #expect(r.peakAppBufferedBytes <= 8 << 20)
        let shed = r.counters["app.buffer_budget_shed"] ?? 0
        #expect(shed > 0)
        #expect(shed + (r.counters["http.truncated_message"] ?? 0) == 200)
        #expect(r.alerts == ["protocol.buffer-budget-full": 1])
    }

    /// Resident memory of a separate process: before, at its peak, as `mcpsonar stress` reports it.
    static func resident(_ arguments: [String]) throws -> (before: Double, peak: Double, output: String) {
        let result = try runBinary(["stress", "--no-detect"] + arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let line = result.stdout.split(separator: "\n").first { $0.hasPrefix("resident memory:") } ?? ""
        let numbers = line.split(whereSeparator: { !"0123456789.".contains($0) }).compactMap { Double($0) }
        return (numbers.first ?? -1, numbers.count > 1 ? numbers[1] : -1, result.stdout)
    }

    @Test func residentMemoryGrowsWithTheCapsNotWithTheAttack() throws {
        // 200 000 SYNs into a table of 50 000 flows: the growth is the table's (about 0.7 KiB a
        // flow), bounded by the cap however long the flood.
        let flood = try Self.resident(["--scenario", "syn-flood", "--count", "200000", "--limit", "flow.max_flows=50000"])
        #expect(flood.before > 0)
        let floodBound: Double = 50_000.0 / 1024.0 + 16.0 // MiB: 1 KiB a flow, plus slack
        let floodGrowth: Double = flood.peak - flood.before
        #expect(floodGrowth < floodBound, "\(flood.output)")
        // 30 000 out-of-order segments: held data stays under the per-direction cap (4 MiB).
        let ooo = try Self.resident(["--scenario", "out-of-order", "--count", "30000"])
        let oooGrowth: Double = ooo.peak - ooo.before
        #expect(oooGrowth < 24.0, "\(ooo.output)") // MiB: twice the 4 MiB cap, plus slack
        // 400 connections sending 1400-byte pieces of bodies announced as 16 MiB: 56 MiB sent,
        // held under the 8 MiB budget.
        let bodies = try Self.resident(["--scenario", "slow-body", "--count", "40000", "--connections", "400",
                                        "--limit", "app.max_buffered_bytes_total=8MiB"])
        let bodiesGrowth: Double = bodies.peak - bodies.before
        #expect(bodiesGrowth < 32.0, "\(bodies.output)") // MiB: twice the 8 MiB budget, plus slack
    }
}

@Test func pressureAlertsAreOnePerInterval() {
    var gate = PressureGate()
    let t0 = Timestamp(microseconds: 1_000_000_000)
    #expect(gate.admit(now: t0, intervalSeconds: 60) == 1)
    for i in 1...999 { #expect(gate.admit(now: Timestamp(microseconds: t0.microseconds + Int64(i) * 50_000), intervalSeconds: 60) == nil) }
    // 60 s after the last alert: one more, standing for the thousand since.
    #expect(gate.admit(now: Timestamp(microseconds: t0.microseconds + 60_000_000), intervalSeconds: 60) == 1000)
    #expect(gate.admit(now: Timestamp(microseconds: t0.microseconds + 60_000_001), intervalSeconds: 60) == nil)
}

@Test func webSocketLimitsRaiseTheLimitAndBombRules() throws {
    func alerts(_ file: String, _ edit: (inout EngineConfig) -> Void) throws -> [String] {
        let sink = MemorySink()
        var config = EngineConfig()
        config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
        edit(&config)
        _ = try Runner(engine: Engine(config: config, sink: sink)).replay(files: [Repo.fixture(file)], diagnostics: { _ in })
        return sink.lines.filter { $0.contains(#""event_type":"alert""#) }.map {
            ((jsonObject($0)["alert"] as? [String: Any])?["signature"] as? String) ?? ""
        }
    }
    #expect(try alerts("crafted/ws-64bit-length.pcap") { $0.webSocket.maxFrameBytes = 1024 }
            == ["limit exceeded on an MCP connection: websocket.frame_too_large (websocket.max_frame_bytes 1024); the sensor skipped what was over it"])
    #expect(try alerts("crafted/ws-deflate-no-context.pcap") { $0.webSocket.maxDecompressedBytes = 100 }
            == ["decompression stopped at its limit: websocket.decompression_bomb (websocket.max_decompressed_bytes 100, websocket.max_decompression_ratio 1000)"])
}
