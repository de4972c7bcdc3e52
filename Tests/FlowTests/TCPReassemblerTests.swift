import Testing
import SonarDecode
@testable import SonarFlow

/// Feeds segments to one reassembler and records what comes out, merging adjacent data.
private struct Harness {
    enum Out: Equatable { case data([UInt8]), gap(Int), end }
    var r = TCPReassembler()
    var ctx: ReassemblyContext
    var out: [Out] = []

    init(limits: ReassemblyLimits = .init()) { ctx = ReassemblyContext(limits: limits) }

    mutating func seg(_ seq: UInt32, _ text: String, _ flags: TCPFlags = [.ack], urgent: UInt16 = 0) {
        let bytes = Array(text.utf8)
        var collected: [Out] = []
        bytes.withUnsafeBytes { raw in
            r.segment(seq: seq, flags: flags, payload: raw, urgentPointer: urgent, context: &ctx) { collected.append(Harness.copy($0)) }
        }
        append(collected)
    }

    mutating func ack(_ a: UInt32) {
        var collected: [Out] = []
        r.acknowledged(a, context: &ctx) { collected.append(Harness.copy($0)) }
        append(collected)
    }

    mutating func close() {
        var collected: [Out] = []
        r.close(context: &ctx) { collected.append(Harness.copy($0)) }
        append(collected)
    }

    static func copy(_ e: StreamEvent) -> Out {
        switch e {
        case .data(let b): return .data(Array(b))
        case .gap(let n): return .gap(n)
        case .end: return .end
        }
    }

    mutating func append(_ events: [Out]) {
        for e in events {
            if case .data(let b) = e, case .data(let prev)? = out.last {
                out[out.count - 1] = .data(prev + b)
            } else {
                out.append(e)
            }
        }
    }

    var text: String {
        out.map { e -> String in
            switch e {
            case .data(let b): return String(decoding: b, as: UTF8.self)
            case .gap(let n): return "<gap \(n)>"
            case .end: return "<end>"
            }
        }.joined()
    }
}

@Test func inOrderAfterSYN() {
    var h = Harness()
    h.seg(1000, "", [.syn])
    h.seg(1001, "hello ")
    h.seg(1007, "world")
    h.seg(1012, "", [.fin, .ack])
    #expect(h.text == "hello world<end>")
    #expect(h.r.finished)
}

@Test func reorderedDuplicatedAndOverlapping() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(7, "world")       // out of order
    h.seg(1, "hel")
    h.seg(1, "hel")         // exact duplicate
    h.seg(3, "llo wo")      // overlaps delivered and held bytes with the same content
    h.seg(10, "ld!")        // overlaps held data
    #expect(h.text == "hello world!")
    #expect(h.ctx.counters["tcp.overlap_conflict"] == 0)
    #expect(h.ctx.pendingBytesTotal == 0)
}

@Test func conflictingOverlapKeepsFirstBytes() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(6, "WORLD")        // held first
    h.seg(6, "earth")        // conflicts with held bytes: first wins
    h.seg(1, "hello")
    #expect(h.text == "helloWORLD")
    #expect(h.ctx.counters["tcp.overlap_conflict"] == 1)
}

@Test func conflictWithDeliveredDataIsCoveredByInOrderSegment() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(4, "XYZ")          // held
    h.seg(1, "abcdef")       // in order, covers held bytes 4..6 with different content
    #expect(h.text == "abcdef")
    #expect(h.ctx.counters["tcp.overlap_conflict"] == 1)
}

@Test func sequenceWrapAround() {
    var h = Harness()
    let isn: UInt32 = 0xFFFF_FFF0
    h.seg(isn, "", [.syn])
    h.seg(isn &+ 1, "0123456789")
    h.seg(isn &+ 11, "abcdefghij")   // crosses 2^32
    h.seg(isn &+ 21, "XYZ", [.fin, .ack])
    #expect(h.text == "0123456789abcdefghijXYZ<end>")
}

@Test func wrapAroundWithReordering() {
    var h = Harness()
    let isn: UInt32 = 0xFFFF_FFFA
    h.seg(isn, "", [.syn])
    h.seg(isn &+ 9, "ghi")          // seq 3, after the wrap
    h.seg(isn &+ 1, "abcdef")
    h.seg(isn &+ 7, "XY")           // hmm: overlaps nothing? fills 7..8
    #expect(h.text == "abcdefXYghi")
}

@Test func midstreamPickup() {
    var h = Harness()
    h.seg(5000, "ST / HTTP/1.1\r\n")
    h.seg(5015, "\r\n")
    #expect(h.text == "ST / HTTP/1.1\r\n\r\n")
    #expect(h.ctx.counters["tcp.midstream_start"] == 1)
}

@Test func lostSegmentBecomesGapWhenAcknowledged() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "aaaa")
    // bytes 5..8 lost in capture
    h.seg(9, "cccc")
    #expect(h.text == "aaaa")
    h.ack(7)                  // does not cover the held data yet
    #expect(h.text == "aaaa")
    h.ack(13)
    #expect(h.text == "aaaa<gap 4>cccc")
    #expect(h.ctx.gaps == 1)
    #expect(h.ctx.gapBytes == 4)
}

@Test func closeFlushesHeldDataWithGaps() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "ab")
    h.seg(5, "ef")
    h.seg(9, "ij")
    h.close()
    #expect(h.text == "ab<gap 2>ef<gap 2>ij<end>")
    #expect(h.ctx.pendingBytesTotal == 0)
}

@Test func finBeforeMissingDataWaits() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(4, "def", [.fin, .ack])
    #expect(h.text == "")
    h.seg(1, "abc")
    #expect(h.text == "abcdef<end>")
}

@Test func pendingLimitGivesUpTheHole() {
    var limits = ReassemblyLimits()
    limits.maxPendingBytesPerDirection = 10
    var h = Harness(limits: limits)
    h.seg(0, "", [.syn])
    h.seg(1, "a")
    h.seg(5, "eeee")   // 4 held
    h.seg(9, "iiii")   // 8 held
    h.seg(13, "mmm")   // 11 held > 10: the hole 2..4 is given up
    #expect(h.text == "a<gap 3>eeeeiiiimmm")
    #expect(h.ctx.counters["tcp.pending_limit"] == 1)
    #expect(h.r.pendingBytes == 0)
    h.seg(2, "bcd")    // too late: already declared lost
    #expect(h.text == "a<gap 3>eeeeiiiimmm")
}

@Test func secondSYNWithNewISNBeforeData() {
    var h = Harness()
    h.seg(100, "", [.syn])
    h.seg(900, "", [.syn])
    h.seg(901, "data")
    #expect(h.text == "data")
    #expect(h.ctx.counters["tcp.syn_isn_changed"] == 1)
}

@Test func theAcknowledgedISNWinsOverALaterSYN() {
    // The real SYN (ISN 100), then a forged one (ISN 900) before the SYN-ACK: the SYN-ACK
    // acknowledges 101, so the stream is the one that starts at 101.
    var h = Harness()
    h.seg(100, "", [.syn])
    h.seg(900, "", [.syn])
    h.ack(101)
    h.seg(101, "real")
    h.seg(901, "fake")
    #expect(h.text == "real")
    #expect(h.ctx.counters["tcp.syn_isn_changed"] == 1)
    #expect(h.ctx.counters["tcp.syn_isn_resolved"] == 1)
    // Past the handshake another SYN is ignored.
    h.seg(5000, "", [.syn])
    h.seg(105, " data")
    #expect(h.text == "real data")
    #expect(h.ctx.counters["tcp.syn_isn_ignored"] == 1)
}

@Test func dataHeldUnderTheWrongISNMovesWithTheRebase() {
    var h = Harness()
    h.seg(100, "", [.syn])
    h.seg(50, "", [.syn])
    h.seg(106, "world")   // held (55 bytes ahead under ISN 50)
    h.ack(101)            // the SYN-ACK settles ISN 100
    h.seg(101, "hello")
    #expect(h.text == "helloworld")
    #expect(h.r.pendingBytes == 0)
}

@Test func urgentByteIsTakenOutAsLinuxDoes() {
    var h = Harness()
    h.seg(0, "", [.syn])
    // Urgent pointer 3: the urgent byte is the one before the pointer (offset 2, the X).
    h.seg(1, "abXcdef", [.ack, .urg], urgent: 3)
    #expect(h.text == "abcdef")
    #expect(h.ctx.counters["tcp.urgent_byte_removed"] == 1)
    #expect(h.ctx.notices == ["tcp.urgent_byte_removed"])
}

@Test func urgentPointerIntoALaterSegmentRemovesThatByte() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "abc", [.ack, .urg], urgent: 5)  // marks offset 4: the second byte of the next segment
    h.seg(4, "dXe")
    #expect(h.text == "abcde")
    // Only the latest mark counts; a mark on bytes already read is ignored.
    h.seg(7, "fg", [.ack, .urg], urgent: 0)   // pointer 0 marks the segment's first byte
    h.seg(9, "h", [.ack, .urg], urgent: 1)
    #expect(h.text == "abcdeg")
    #expect(h.ctx.counters["tcp.urgent_byte_removed"] == 3)
}

@Test func overlapConflictIsNotedOnce() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(5, "WORLD")
    h.seg(5, "world")     // held bytes differ: first wins
    h.seg(5, "wOrld")
    h.seg(1, "hell")
    #expect(h.text == "hellWORLD")
    #expect(h.ctx.counters["tcp.overlap_conflict"] == 2)
    #expect(h.ctx.notices == ["tcp.overlap_conflict"])
}

@Test func aMillionOutOfOrderSegmentsStayBounded() {
    // Every other byte, far from the hole at the start: the segment limit gives holes up as gaps.
    var limits = ReassemblyLimits()
    limits.maxPendingSegmentsPerDirection = 2048
    var h = Harness(limits: limits)
    h.seg(0, "", [.syn])
    var peakSegments = 0
    let count = 100_000
    for i in 0..<count {
        h.seg(UInt32(2 + 2 * i), "x")
        peakSegments = max(peakSegments, h.r.pendingBytes)
        if i % 4096 == 0 { h.out.removeAll() }
    }
    #expect(peakSegments <= 2048)
    #expect(h.ctx.pendingBytesTotal == h.r.pendingBytes)
    #expect(h.ctx.counters["tcp.pending_limit"] > 0)
}

@Test func randomSegmentationAndOrderGiveTheSameStream() {
    // Deterministic PRNG: split a message into random segments, shuffle within windows,
    // duplicate some, and check the stream comes out whole every time.
    var rng = SplitMix(seed: 42)
    let message = (0..<2000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    for _ in 0..<200 {
        var segments: [(UInt32, [UInt8])] = []
        var pos = 0
        while pos < message.count {
            let n = min(message.count - pos, Int(rng.next() % 50) + 1)
            segments.append((UInt32(1 + pos) &+ 0xFFFF_F000, Array(message[pos..<pos + n])))
            pos += n
        }
        var order: [(UInt32, [UInt8])] = []
        var i = 0
        while i < segments.count {
            var window = Array(segments[i..<min(i + 4, segments.count)])
            window.shuffle(using: &rng)
            order += window
            if rng.next() % 5 == 0, let d = window.first { order.append(d) }
            i += 4
        }
        var r = TCPReassembler()
        var ctx = ReassemblyContext(limits: .init())
        var got: [UInt8] = []
        r.segment(seq: 0xFFFF_F000, flags: [.syn], payload: UnsafeRawBufferPointer(start: nil, count: 0), context: &ctx) { _ in }
        for (seq, bytes) in order {
            bytes.withUnsafeBytes { raw in
                r.segment(seq: seq, flags: [.ack], payload: raw, context: &ctx) { e in
                    if case .data(let b) = e { got += Array(b) }
                }
            }
        }
        #expect(got == message)
        #expect(ctx.counters["tcp.overlap_conflict"] == 0)
    }
}

struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - evasion and hostile input (review findings)

@Test func segmentFarBeyondTheWindowIsNotHeld() {
    var h = Harness()
    h.seg(0, "", [.syn])
    for i in 0..<3000 { h.seg(UInt32(1_000_000_000 + i), "x") }   // far ahead: a real receiver drops these
    h.seg(1, "GET / HTTP/1.1\r\n\r\n")
    #expect(h.text == "GET / HTTP/1.1\r\n\r\n")
    #expect(h.ctx.counters["tcp.segment_beyond_window"] == 3000)
    #expect(h.ctx.pendingBytesTotal == 0)
}

@Test func ackFarAheadCannotSwallowTheStream() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "ab")
    h.seg(10, "held")                  // a real hole of 7 bytes, then held data
    h.ack(1_000_000_000)               // an ACK far beyond anything sent
    #expect(h.text == "ab<gap 7>held") // the gap ends where sent data ends
    h.seg(14, "more")
    #expect(h.text == "ab<gap 7>heldmore")
}

@Test func staleFINIsIgnored() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "first request ")
    h.seg(1, "", [.fin, .ack])        // FIN at an offset already delivered: a receiver ignores it
    h.seg(15, "second request")
    #expect(h.text == "first request second request")
    #expect(h.ctx.counters["tcp.stale_fin"] == 1)
    #expect(!h.r.finished)
}

@Test func resetOnlyOnTheExactNextByteIsAccepted() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "hello")
    #expect(h.r.resetVerdict(seq: 6) == .accept)
    // In the window but not exact: Linux answers with a challenge ACK (RFC 5961 3.2).
    #expect(h.r.resetVerdict(seq: 6 + 1000) == .inexact)
    #expect(h.r.resetVerdict(seq: 5) == .outOfWindow)
    #expect(h.r.resetVerdict(seq: 6 + 123_456_789) == .outOfWindow)
    #expect(h.r.resetVerdict(seq: 6 &- 100_000) == .outOfWindow)
    // The end of the highest data held out of order counts too (Linux's SACK rule).
    h.seg(20, "later")
    #expect(h.r.resetVerdict(seq: 25) == .accept)
    #expect(h.r.acceptsReset(seq: 6))
}

@Test func resetOnePastTheFINIsAccepted() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "bye", [.fin, .ack])
    #expect(h.r.resetVerdict(seq: 5) == .accept)
}

@Test func droppingHeldDataReleasesTheGlobalBudget() {
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(100, String(repeating: "z", count: 5000))
    #expect(h.ctx.pendingBytesTotal == 5000)
    h.r.dropHeld(context: &h.ctx)
    #expect(h.ctx.pendingBytesTotal == 0)
    #expect(h.r.pendingBytes == 0)
}

@Test func retransmissionThatDiffersFromDeliveredDataIsAConflict() {
    // A forged segment that got in first (a low TTL: it never reached the endpoint), then the
    // real one with the same sequence numbers: the sensor keeps the first, but says so.
    var h = Harness()
    h.seg(0, "", [.syn])
    h.seg(1, "abc")
    h.seg(4, "FAKE")
    h.seg(4, "real")
    h.seg(4, "FAKE")      // an exact retransmission of what was delivered: no conflict
    h.seg(6, "KEx")       // overlaps the end of what was delivered, same bytes, then new data
    #expect(h.text == "abcFAKEx")
    #expect(h.ctx.counters["tcp.overlap_conflict"] == 1)
    #expect(h.ctx.counters["tcp.retransmission"] == 2)
    #expect(h.ctx.notices == ["tcp.overlap_conflict"])
}

@Test func keptDeliveredBytesStayWithinTheirBudgets() {
    var limits = ReassemblyLimits()
    limits.recentBytesPerDirection = 8
    limits.maxRecentBytesTotal = 20
    var a = Harness(limits: limits)
    a.seg(0, "", [.syn])
    for i in 0..<10 { a.seg(UInt32(1 + 5 * i), "12345") }
    #expect(a.ctx.recentBytesTotal <= 16)
    a.close()
    #expect(a.ctx.recentBytesTotal == 0)
}

/// The last delivered bytes are a ring of exactly `recentBytesPerDirection`: a retransmission is
/// compared with every kept byte, across the ring's wrap, through deliveries of any size, and
/// bytes older than the ring are not compared (nor kept).
@Test func retransmissionsAreComparedWithTheLastBytesAcrossTheRing() {
    var limits = ReassemblyLimits()
    limits.recentBytesPerDirection = 8
    func run(_ deliveries: [String], _ retransmissions: [(UInt32, String)]) -> (conflicts: Int, kept: Int) {
        var h = Harness(limits: limits)
        h.seg(0, "", [.syn])
        var seq: UInt32 = 1
        for d in deliveries { h.seg(seq, d); seq += UInt32(d.utf8.count) }
        for (at, text) in retransmissions { h.seg(at, text) }
        #expect(h.text == deliveries.joined())
        return (h.ctx.counters["tcp.overlap_conflict"], h.ctx.recentBytesTotal)
    }
    // 0123456789abc delivered in pieces of 3, 4, 1, 5: the ring holds "56789abc", wrapped.
    let pieces = ["012", "3456", "7", "89abc"]
    #expect(run(pieces, [(7, "6789abc")]).conflicts == 0)            // the same bytes, across the wrap
    #expect(run(pieces, [(7, "6789Xbc")]).conflicts == 1)              // one differs, after the wrap
    #expect(run(pieces, [(6, "5X")]).conflicts == 1)                   // the oldest kept byte's neighbour
    #expect(run(pieces, [(6, "X")]).conflicts == 1)                    // the oldest kept byte
    #expect(run(pieces, [(1, "XXXXX")]).conflicts == 0)              // older than the ring: not compared
    #expect(run(pieces, [(4, "XX56789abc")]).conflicts == 0)         // partly older: only the kept part is compared
    #expect(run(pieces, [(4, "XX56789abX")]).conflicts == 1)
    #expect(run(pieces, [(1, "0123456789abc")]).kept == 8)
    // One delivery longer than the ring, then small ones: the ring restarts from its last bytes.
    let long = ["0123456789abcdef", "gh", "i"]
    #expect(run(long, [(12, "bcdefghi")]).conflicts == 0)
    #expect(run(long, [(12, "bcdefghX")]).conflicts == 1)
    #expect(run(long, [(11, "ab")]).conflicts == 0)                  // "a" is older than the ring, "b" is kept
    #expect(run(long, [(11, "aX")]).conflicts == 1)
}
