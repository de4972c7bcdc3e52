import Foundation
import SonarCapture
import SonarCore
import SonarDetect
import SonarOutput
import Testing
@testable import SonarEngine

/// Reading capture files ahead (one worker, `ReadAhead`): packets are copied out of libpcap's
/// buffer, processed in the order read, and nothing in the output depends on it.
@Suite struct ReadAheadTests {
    @Test func packetsComeOutInOrderWithTheirOwnBytes() {
        let ahead = ReadAhead()
        var source: [UInt8] = [1, 2, 3]
        func add(_ time: Int64, _ hash: UInt64?) {
            source.withUnsafeBytes {
                ahead.add(CapturedPacket(timestamp: Timestamp(seconds: time, microseconds: 0), bytes: $0,
                                         wireLength: 100 + Int(time)), hash: hash)
            }
            // The next read overwrites libpcap's buffer: what was added must not change with it.
            source = source.map { $0 &+ 10 } + [UInt8(time)]
        }
        #expect(ahead.newestHash == nil && ahead.count == 0)
        add(1, 11)
        #expect(ahead.newestHash == 11)
        add(2, nil)
        #expect(ahead.newestHash == nil)
        add(3, 33)
        #expect(ahead.newestHash == 33)
        #expect(ahead.isFull && ahead.count == ReadAhead.depth)
        var seen: [(Int64, Int, [UInt8])] = []
        func take() { ahead.takeOldest { seen.append(($0.timestamp.microseconds / 1_000_000, $0.wireLength, Array($0.bytes))) } }
        take()
        add(4, 44)
        #expect(ahead.newestHash == 44)
        while ahead.count > 0 { take() }
        #expect(seen.map(\.0) == [1, 2, 3, 4])
        #expect(seen.map(\.1) == [101, 102, 103, 104])
        #expect(seen.map(\.2) == [[1, 2, 3], [11, 12, 13, 1], [21, 22, 23, 11, 2], [31, 32, 33, 21, 12, 3]])
        // A slot grows for a packet larger than it held, and an empty packet is empty.
        let large = (0..<70_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        for bytes in [large, [], large.reversed()] {
            bytes.withUnsafeBytes { ahead.add(CapturedPacket(timestamp: .zero, bytes: $0, wireLength: bytes.count), hash: nil) }
        }
        seen.removeAll()
        while ahead.count > 0 { take() }
        #expect(seen.map(\.2) == [large, [], large.reversed()])
    }

    /// The engine, minus reading ahead: the runner hands it each packet as read.
    final class NotAhead: PacketPipeline {
        let engine: Engine
        init(_ engine: Engine) { self.engine = engine }
        var config: EngineConfig { engine.config }
        var now: Timestamp { engine.now }
        var eventsWritten: Int { engine.eventsWritten }
        var outputStats: (() -> OutputStats)? { get { engine.outputStats } set { engine.outputStats = newValue } }
        func process(_ packet: CapturedPacket, linkType: Int32) { engine.process(packet, linkType: linkType) }
        func advanceClock(to time: Timestamp) { engine.advanceClock(to: time) }
        func writeStats(captureStats: CaptureStats?, time: Timestamp?) { engine.writeStats(captureStats: captureStats, time: time) }
        func finishFlows() { engine.finishFlows() }
        func finish() { engine.finish() }
        func flush() { engine.flush() }
        func reloadDetection(_ new: DetectionConfig) -> Bool { engine.reloadDetection(new) }
        func reopenOutputs() { engine.reopenOutputs() }
        func close() { engine.close() }
    }

    /// Every fixture, and the benchmark mix, with stats every half second of packet time: the
    /// same events, in the same order, read ahead or not.
    @Test func theEventsAreThoseOfPacketsHandedOverAsRead() throws {
        let corpus = FileManager.default.temporaryDirectory.appendingPathComponent("readahead-\(getpid()).pcap").path
        defer { try? FileManager.default.removeItem(atPath: corpus) }
        _ = try Corpus.generate(CorpusOptions(size: 2_000_000, seed: 3, fixtures: Corpus.fixtureFiles(in: Repo.fixtures.path)), to: corpus)
        let files = ParallelEngineTests.everyCapture + [corpus]
        func run(ahead: Bool) throws -> [String] {
            let sink = MemorySink()
            var config = EngineConfig()
            config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
            let engine = Engine(config: config, sink: sink)
            #expect(engine.readsAhead)
            var control = RunControl()
            control.statsInterval = 0.5
            _ = try Runner(engine: ahead ? engine : NotAhead(engine)).replay(files: files, control: control, diagnostics: { _ in })
            return sink.lines.map(comparable)
        }
        let read = try run(ahead: false)
        #expect(read.count > 2_000)
        #expect(try run(ahead: true) == read)
    }
}
