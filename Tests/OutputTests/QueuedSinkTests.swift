import Dispatch
import Foundation
import Synchronization
import Testing
@testable import SonarOutput

/// A sink that blocks in `write` until released, recording what it was given, in order.
final class GateSink: EventSink, @unchecked Sendable {
    let gate = DispatchSemaphore(value: 0)
    let entered = DispatchSemaphore(value: 0)
    private let received = Mutex<[String]>([])
    private let reopens = Mutex(0)
    var blockFirst = true
    func write(line: [UInt8]) {
        if blockFirst {
            blockFirst = false
            entered.signal()
            gate.wait()
        }
        received.withLock { $0.append(String(decoding: line, as: UTF8.self)) }
    }
    func flush() {}
    func close() {}
    func reopen() { received.withLock { $0.append("<reopen>") } }
    var lines: [String] { received.withLock { $0 } }
}

@Suite struct QueuedSinkTests {
    /// Live capture: a sink that stops taking lines fills the queue; beyond its bound each event is
    /// dropped and counted, exactly; nothing accepted is lost once the sink moves again.
    @Test func aStalledSinkFillsTheQueueThenEventsAreDroppedAndCounted() {
        let sink = GateSink()
        let queue = QueuedSink(sinks: [("file", sink)], maxEvents: 10, overflow: .drop)
        queue.write(line: Array("e0".utf8))
        sink.entered.wait() // the writer holds e0, blocked in the sink
        for i in 1...25 { queue.write(line: Array("e\(i)".utf8)) }
        var stats = queue.stats
        #expect(stats.dropped == 15, "10 wait, 15 have no room")
        #expect(stats.queued == 11, "e0 being written and 10 waiting")
        sink.gate.signal()
        queue.close()
        stats = queue.stats
        #expect(sink.lines == (0...10).map { "e\($0)" })
        #expect(stats.written == 11)
        #expect(stats.dropped == 15)
        #expect(stats.queued == 0)
    }

    /// Replay: a full queue makes the producer wait; every event arrives, in order.
    @Test func blockingQueueLosesNothing() {
        let sink = GateSink()
        let queue = QueuedSink(sinks: [("file", sink)], maxEvents: 4, overflow: .block)
        let producer = Thread {
            for i in 0..<200 { queue.write(line: Array("e\(i)".utf8)) }
        }
        producer.start()
        sink.entered.wait()
        sink.gate.signal()
        while !producer.isFinished { usleep(1000) }
        queue.close()
        #expect(sink.lines == (0..<200).map { "e\($0)" })
        #expect(queue.stats.dropped == 0)
        #expect(queue.stats.written == 200)
    }

    /// SIGHUP's reopen travels through the queue: it happens between the events around it.
    @Test func reopenHappensInOrderWithTheEvents() {
        let sink = GateSink()
        sink.blockFirst = false
        let queue = QueuedSink(sinks: [("file", sink)], overflow: .block)
        queue.write(line: Array("a".utf8))
        queue.reopen()
        queue.write(line: Array("b".utf8))
        queue.close()
        #expect(sink.lines == ["a", "<reopen>", "b"])
    }

    /// Every sink gets every event; their own figures are reported by kind.
    @Test func fansOutToEverySinkAndReportsEachKind() throws {
        let a = GateSink(), b = GateSink()
        a.blockFirst = false
        b.blockFirst = false
        let queue = QueuedSink(sinks: [("file", a), ("unix", b)], overflow: .drop)
        for i in 0..<5 { queue.write(line: Array("e\(i)".utf8), type: "mcp") }
        queue.close()
        #expect(a.lines == b.lines)
        #expect(a.lines.count == 5)
        #expect(queue.stats.sinks.keys.sorted() == ["file", "unix"])
    }
}
