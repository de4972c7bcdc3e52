import SonarCore
import SonarDecode

/// What reassembly hands the application layer for one direction of a connection, in stream order.
public enum StreamEvent {
    /// Bytes that follow the previous ones without a hole. Borrowed: copy to keep.
    case data(UnsafeRawBufferPointer)
    /// `length` bytes of the stream were never seen (lost in capture or given up on): the parser
    /// must resynchronise instead of reading across the hole.
    case gap(Int)
    /// The direction ended (FIN reached, RST, timeout or eviction). Nothing follows.
    case end
}

/// Limits on what reassembly holds. Only out-of-order data is ever held: in-order data passes
/// straight from the packet buffer to the parser.
public struct ReassemblyLimits: Sendable {
    /// Out-of-order bytes held for one direction before the hole in front of them is declared a gap.
    public var maxPendingBytesPerDirection = 4 << 20
    /// Out-of-order segments held for one direction (bounds the cost of inserting one more).
    public var maxPendingSegmentsPerDirection = 2048
    /// Out-of-order bytes held across all flows.
    public var maxPendingBytesTotal = 256 << 20
    /// How far ahead of the next expected byte a segment may start and still be held (TCP windows
    /// with scaling reach 1 GiB in theory; real captures stay far below 16 MiB).
    public var maxReorderDistance = 16 << 20
    /// The last bytes delivered, kept per direction so that a retransmission of data already
    /// delivered can be compared with it (a forged segment that got in first, then the real one).
    public var recentBytesPerDirection = 2048
    /// Those kept bytes across all flows; past it new directions keep none ("tcp.recent_bytes_limit").
    public var maxRecentBytesTotal = 64 << 20
    public init() {}
}

/// Shared accounting for every reassembler of one flow table.
public struct ReassemblyContext {
    public var limits: ReassemblyLimits
    public var counters = Counters()
    public var pendingBytesTotal = 0
    /// Bytes kept by all directions to compare retransmissions with.
    public var recentBytesTotal = 0
    public var gaps = 0
    public var gapBytes = 0
    /// Events of the segment being processed that an analyst should hear about (an overlap with
    /// conflicting bytes, a hole given up at a limit, urgent data removed), by counter name, each
    /// at most once. The engine reads and empties it after every call; bounded by its few names.
    public var notices: [String] = []
    public init(limits: ReassemblyLimits) { self.limits = limits }

    /// Counts `name` and notes it for the engine.
    mutating func notice(_ name: String) {
        counters.add(name)
        if !notices.contains(name) { notices.append(name) }
    }
}

/// What a receiver does with a RST (RFC 5961 3.2, as Linux implements it).
public enum ResetVerdict: Sendable, Equatable {
    /// The sequence number is exactly the next expected byte (or the end of the highest data held,
    /// Linux's SACK rule, or one past an accepted FIN): the connection is reset.
    case accept
    /// Inside the window but not exact: the receiver answers with a challenge ACK and goes on.
    case inexact
    /// Outside the window: dropped.
    case outOfWindow
}

/// In-order delivery of one direction of a TCP connection.
///
/// Positions are kept as 64-bit offsets from the first byte of the stream, so sequence number
/// wrap-around is invisible past the point where a segment's 32-bit sequence number is placed
/// relative to the next expected one (valid for anything within ±2 GiB of it).
///
/// Overlap policy ("first wins"): bytes already delivered are never replaced, and bytes already
/// held out of order are not replaced by a later segment covering them; a later segment only fills
/// holes. When overlapping bytes differ, `tcp.overlap_conflict` is counted and noted, because the
/// endpoints may have seen different bytes than we did (docs/limits.md compares this with Linux).
///
/// Urgent data: as a Linux receiver without `SO_OOBINLINE` (the default of every MCP SDK), the
/// byte the urgent pointer marks (BSD reading: `seq + urgent pointer - 1`) is taken out of the
/// stream; only the latest mark counts ("tcp.urgent_byte_removed").
///
/// Initial sequence number: a second SYN with another ISN before any data replaces the first
/// ("tcp.syn_isn_changed"); the peer's acknowledgement then settles it — the ISN the SYN-ACK
/// acknowledges is the one the endpoint uses ("tcp.syn_isn_resolved"). Once settled, or once data
/// was delivered, a SYN with another ISN is ignored ("tcp.syn_isn_ignored").
public struct TCPReassembler {
    private struct Pending {
        var offset: UInt64
        var bytes: [UInt8]
        var end: UInt64 { offset + UInt64(bytes.count) }
    }

    // Declaration order is the layout (81 bytes, 88 apart in a flow): what a packet's
    // acknowledgment reads of the other direction when there is nothing to do (`started`,
    // `isnSettled`, `finished`, `pendingBytes`) comes first, then what an in-order segment reads
    // and writes; what only handshakes, FINs and urgent data need comes last.
    /// Whether the start of this direction is known (SYN seen, or first data taken as the start).
    public private(set) var started = false
    /// Whether `.end` has been emitted.
    public private(set) var finished = false
    private var isnSettled = false
    /// Sequence number of the stream's offset 0.
    private var baseSeq: UInt32 = 0
    public private(set) var pendingBytes = 0
    /// Next offset the application expects: everything before it was delivered or declared a gap.
    public private(set) var delivered: UInt64 = 0
    private var pending: [Pending] = []
    /// The last bytes delivered (at most `recentBytesPerDirection`), for comparing retransmissions
    /// of delivered data; empty after a gap until data follows again. A ring once full: the byte
    /// at stream offset `k` is at `(k - recentOrigin) % recent.count` (while it fills, that is
    /// `k - recentOrigin`), so each delivered byte is copied once and nothing slides.
    private var recent: [UInt8] = []
    private var recentOrigin: UInt64 = 0
    private var finOffset: UInt64?
    /// `baseSeq` of every SYN seen with a distinct ISN (at most 4), until an ACK settles which.
    private var synBases: [UInt32] = []
    /// Offset of the urgent byte still to be taken out of the stream.
    private var urgentOffset: UInt64?

    public init() {}

    /// Offset of sequence number `seq`, placed within ±2 GiB of the next expected byte.
    @inline(__always)
    private func offset(of seq: UInt32) -> UInt64? {
        let nextSeq = baseSeq &+ UInt32(truncatingIfNeeded: delivered)
        let rel = Int64(Int32(bitPattern: seq &- nextSeq))
        let off = Int64(delivered) + rel
        return off < 0 ? nil : UInt64(off)
    }

    /// A segment travelling in this direction. `urgentPointer` counts only with the URG flag.
    /// Returns whether `context.notices` holds anything now: the engine reads the context only
    /// then (each read of it is a run-time exclusivity check, twice a packet otherwise).
    @discardableResult
    public mutating func segment(seq: UInt32, flags: TCPFlags, payload: UnsafeRawBufferPointer, urgentPointer: UInt16 = 0,
                                 context: inout ReassemblyContext, emit: (StreamEvent) -> Void) -> Bool {
        take(seq: seq, flags: flags, payload: payload, urgentPointer: urgentPointer, context: &context, emit: emit)
        return !context.notices.isEmpty
    }

    private mutating func take(seq: UInt32, flags: TCPFlags, payload: UnsafeRawBufferPointer, urgentPointer: UInt16,
                               context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        if finished { return }
        var seq = seq
        if flags.contains(.syn) {
            let base = seq &+ 1
            if !started {
                started = true
                baseSeq = base
                synBases = [base]
            } else if base != baseSeq {
                guard !isnSettled, delivered == 0, !synBases.isEmpty else {
                    // The endpoint is past its handshake: a SYN with another ISN is answered with a
                    // challenge ACK (RFC 5961 4), never obeyed.
                    context.counters.add("tcp.syn_isn_ignored")
                    return
                }
                // A second SYN with another ISN before any data: take the newer one until an
                // acknowledgement says which one the endpoint took.
                context.counters.add("tcp.syn_isn_changed")
                if !synBases.contains(base) && synBases.count < 4 { synBases.append(base) }
                rebase(to: base, context: &context)
            }
            seq = base // the SYN occupies one sequence number; data on a SYN follows it
        } else if !started {
            // Picked up mid-stream: the first segment seen starts the stream.
            started = true
            baseSeq = seq
            context.counters.add("tcp.midstream_start")
        }
        guard let start = offset(of: seq) else {
            context.counters.add("tcp.segment_before_stream_start")
            return
        }
        if flags.contains(.urg) {
            // Linux (tcp_check_urg, tcp_stdurg = 0): the urgent byte is the one before the pointer.
            let mark = start + UInt64(urgentPointer > 0 ? urgentPointer - 1 : 0)
            // Linux ignores a mark already read or not past the current one.
            if mark >= delivered, urgentOffset.map({ mark > $0 }) ?? true { urgentOffset = mark }
        }
        if flags.contains(.fin) {
            let fin = start + UInt64(payload.count)
            // A FIN before data already delivered is stale (a receiver ignores it).
            if fin < delivered {
                context.counters.add("tcp.stale_fin")
            } else if fin < (finOffset ?? .max) {
                finOffset = fin
            }
        }
        if !payload.isEmpty {
            accept(start: start, payload: payload, context: &context, emit: emit)
        }
        finishIfComplete(context: &context, emit: emit)
    }

    /// Moves offset 0 to a new ISN before any data was delivered: held data keeps its sequence
    /// numbers (what now falls before the stream's start is dropped).
    private mutating func rebase(to base: UInt32, context: inout ReassemblyContext) {
        let delta = Int64(Int32(bitPattern: baseSeq &- base))
        baseSeq = base
        urgentOffset = nil
        if let fin = finOffset {
            let moved = Int64(fin) + delta
            finOffset = moved < 0 ? nil : UInt64(moved)
        }
        guard !pending.isEmpty else { return }
        var kept: [Pending] = []
        for p in pending {
            let moved = Int64(p.offset) + delta
            if moved >= 0 {
                kept.append(Pending(offset: UInt64(moved), bytes: p.bytes))
            } else {
                pendingBytes -= p.bytes.count
                context.pendingBytesTotal -= p.bytes.count
            }
        }
        pending = kept
    }

    /// The peer acknowledged everything before `ack`. When that covers a hole in front of data we
    /// hold, the endpoint received bytes the capture missed: declare them a gap so parsing goes on
    /// behind them. (An acknowledgement alone, with nothing held, proves nothing on a capture that
    /// may reorder directions, so the tail of a stream waits for more data or for the close.)
    /// Returns whether `context.notices` holds anything now, as `segment` does.
    @discardableResult
    public mutating func acknowledged(_ ack: UInt32, context: inout ReassemblyContext, emit: (StreamEvent) -> Void) -> Bool {
        takeAcknowledgment(ack, context: &context, emit: emit)
        return !context.notices.isEmpty
    }

    private mutating func takeAcknowledgment(_ ack: UInt32, context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        if started && !isnSettled {
            if synBases.contains(ack) {
                // The acknowledgement of a SYN: this ISN is the one the endpoint took.
                isnSettled = true
                if ack != baseSeq && delivered == 0 {
                    context.counters.add("tcp.syn_isn_resolved")
                    rebase(to: ack, context: &context)
                }
            } else if delivered > 0 {
                isnSettled = true
            }
        }
        // `pendingBytes` first: with nothing held (nearly always) the array's storage, elsewhere
        // in memory, is not read.
        guard started, !finished, pendingBytes > 0, let first = pending.first, let ackOffset = offset(of: ack),
              ackOffset > first.offset else { return }
        var target = ackOffset
        if let fin = finOffset, target > fin { target = fin } // the FIN's own sequence number is no data
        // Never past what was actually sent: an ACK far ahead must not swallow the stream.
        if let last = pending.last, target > last.end { target = last.end }
        declareGap(upTo: target, context: &context, emit: emit)
        finishIfComplete(context: &context, emit: emit)
    }

    /// The connection is over (RST, timeout, eviction, end of input): deliver whatever is held,
    /// with gaps for the holes, then end the direction.
    public mutating func close(context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        if finished { return }
        if let last = pending.last { declareGap(upTo: last.end, context: &context, emit: emit) }
        finished = true
        releaseAll(context: &context)
        emit(.end)
    }

    /// Whether a RST with this sequence number is one the receiver would accept.
    public func acceptsReset(seq: UInt32) -> Bool { resetVerdict(seq: seq) == .accept }

    /// What a Linux receiver does with a RST carrying `seq` (RFC 5961 3.2): it resets only on the
    /// exact next expected byte, or on the end of the highest data it holds out of order (its SACK
    /// rule); after a FIN the next byte is one past it. Another sequence number inside the window
    /// gets a challenge ACK, outside it is dropped. Either way the connection goes on: a RST
    /// injected blind, with a guessed sequence number, must not end the stream for the sensor.
    public func resetVerdict(seq: UInt32) -> ResetVerdict {
        guard started else { return .accept }
        guard let off = offset(of: seq) else { return .outOfWindow }
        if off == delivered { return .accept }
        if let fin = finOffset, delivered >= fin, off == fin + 1 { return .accept }
        if let last = pending.last, off == last.end { return .accept }
        return off > delivered && off - delivered <= 1 << 20 ? .inexact : .outOfWindow
    }

    /// Releases whatever is held without delivering it (the flow is bypassed: nobody reads it).
    public mutating func dropHeld(context: inout ReassemblyContext) {
        releaseAll(context: &context)
    }

    // MARK: - internals

    private mutating func accept(start: UInt64, payload: UnsafeRawBufferPointer,
                                 context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        let end = start + UInt64(payload.count)
        if start < delivered { compareRecent(start: start, payload: payload, context: &context) }
        if end <= delivered {
            context.counters.add("tcp.retransmission")
            return
        }
        if start <= delivered {
            // In order (possibly overlapping what was delivered): pass it through without a copy.
            if start < delivered { context.counters.add("tcp.overlap_delivered") }
            let skip = Int(delivered - start)
            let fresh = UnsafeRawBufferPointer(rebasing: payload[skip...])
            // Held segments that this one covers must agree with it (first wins).
            checkConflicts(offset: delivered, bytes: fresh, context: &context)
            let from = delivered
            delivered = end
            remember(fresh, context: &context)
            emitData(fresh, at: from, context: &context, emit: emit)
            drainContiguous(context: &context, emit: emit)
            return
        }
        // Data far beyond anything a receive window allows is not held: a real receiver drops it,
        // and holding it would let an attacker push the stream past the real bytes.
        if start - delivered > UInt64(context.limits.maxReorderDistance) {
            context.counters.add("tcp.segment_beyond_window")
            return
        }
        insertPending(start: start, payload: payload, context: &context)
        if pendingBytes > context.limits.maxPendingBytesPerDirection
            || pending.count > context.limits.maxPendingSegmentsPerDirection
            || context.pendingBytesTotal > context.limits.maxPendingBytesTotal {
            // Waiting longer for the hole costs memory we will not spend: give the hole up.
            context.notice("tcp.pending_limit")
            while let first = pending.first,
                  pendingBytes > context.limits.maxPendingBytesPerDirection / 2
                    || pending.count > context.limits.maxPendingSegmentsPerDirection / 2
                    || context.pendingBytesTotal > context.limits.maxPendingBytesTotal {
                declareGap(upTo: first.end, context: &context, emit: emit)
            }
        }
    }

    /// Compares the part of a segment that covers data already delivered with the bytes kept of it.
    private func compareRecent(start: UInt64, payload: UnsafeRawBufferPointer, context: inout ReassemblyContext) {
        let kept = UInt64(recent.count)
        let keptFrom = delivered - kept
        let lo = max(start, keptFrom), hi = min(start + UInt64(payload.count), delivered)
        guard lo < hi else { return }
        for k in lo..<hi where recent[Int((k - recentOrigin) % kept)] != payload[Int(k - start)] {
            context.notice("tcp.overlap_conflict")
            return
        }
    }

    /// Keeps the last delivered bytes (`bytes` ends at `delivered`), at most
    /// `recentBytesPerDirection`, within the total budget.
    private mutating func remember(_ bytes: UnsafeRawBufferPointer, context: inout ReassemblyContext) {
        let keep = context.limits.recentBytesPerDirection
        guard keep > 0, !bytes.isEmpty else { return }
        // A ring longer than the setting (never, while the limits stay as they were made): start again.
        if recent.count > keep { forgetRecent(context: &context) }
        if bytes.count >= keep {
            // This delivery alone fills the ring: its last `keep` bytes, from the ring's start.
            let last = UnsafeRawBufferPointer(rebasing: bytes[(bytes.count - keep)...])
            if recent.count != keep {
                forgetRecent(context: &context)
                guard context.recentBytesTotal + keep <= context.limits.maxRecentBytesTotal else {
                    context.counters.add("tcp.recent_bytes_limit")
                    return
                }
                recent.reserveCapacity(keep)
                recent.append(contentsOf: last)
                context.recentBytesTotal += keep
            } else {
                // Already holding exactly `keep` bytes: overwritten in place (no allocation, the
                // budget unchanged). The common case of a bulk transfer.
                recent.withUnsafeMutableBytes { $0.copyMemory(from: last) }
            }
            recentOrigin = delivered - UInt64(keep)
            return
        }
        var rest = bytes
        if recent.count < keep {
            // Filling: appended after the bytes before them (a gap empties the ring).
            if recent.isEmpty { recentOrigin = delivered - UInt64(bytes.count) }
            let grow = min(keep - recent.count, rest.count)
            guard context.recentBytesTotal + grow <= context.limits.maxRecentBytesTotal else {
                context.counters.add("tcp.recent_bytes_limit")
                forgetRecent(context: &context)
                return
            }
            // Grown as bytes come, not reserved at once: a million connections that each sent a
            // few bytes must not hold a full ring each.
            recent.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[..<grow]))
            context.recentBytesTotal += grow
            rest = UnsafeRawBufferPointer(rebasing: rest[grow...])
        }
        // Full: the rest overwrites the oldest bytes, in at most two pieces.
        var at = delivered - UInt64(rest.count)
        while !rest.isEmpty {
            let index = Int((at - recentOrigin) % UInt64(keep))
            let piece = min(keep - index, rest.count)
            recent.withUnsafeMutableBytes {
                UnsafeMutableRawBufferPointer(rebasing: $0[index..<(index + piece)])
                    .copyMemory(from: UnsafeRawBufferPointer(rebasing: rest[..<piece]))
            }
            rest = UnsafeRawBufferPointer(rebasing: rest[piece...])
            at += UInt64(piece)
        }
    }

    private mutating func forgetRecent(context: inout ReassemblyContext) {
        context.recentBytesTotal -= recent.count
        recent = []
    }

    /// Compares `bytes` at `offset` with held data that overlaps it, then drops what it covers.
    private mutating func checkConflicts(offset: UInt64, bytes: UnsafeRawBufferPointer, context: inout ReassemblyContext) {
        let end = offset + UInt64(bytes.count)
        var i = 0
        while i < pending.count, pending[i].offset < end {
            let p = pending[i]
            let lo = max(p.offset, offset), hi = min(p.end, end)
            if lo < hi {
                var differs = false
                for k in lo..<hi where p.bytes[Int(k - p.offset)] != bytes[Int(k - offset)] { differs = true; break }
                if differs { context.notice("tcp.overlap_conflict") }
            }
            if p.end <= end {
                releasePending(at: i, context: &context)
            } else {
                i += 1
            }
        }
    }

    /// Index of the first held segment ending after `offset` (held segments are sorted and
    /// disjoint, so their ends are sorted too): a binary search, so a flood of out-of-order
    /// segments costs O(log n) per lookup.
    private func firstPending(endingAfter offset: UInt64) -> Int {
        var lo = 0, hi = pending.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if pending[mid].end <= offset { lo = mid + 1 } else { hi = mid }
        }
        return lo
    }

    /// Holds an out-of-order segment, keeping only the parts that fill holes (first wins).
    private mutating func insertPending(start: UInt64, payload: UnsafeRawBufferPointer, context: inout ReassemblyContext) {
        let end = start + UInt64(payload.count)
        var pieces: [(UInt64, UInt64)] = []
        var cursor = start
        var i = firstPending(endingAfter: start)
        let firstOverlap = i
        while i < pending.count, pending[i].offset < end {
            // Compare the overlap with what is held, then cut it out of the new segment.
            let p = pending[i]
            let lo = max(p.offset, start), hi = min(p.end, end)
            var differs = false
            for k in lo..<hi where p.bytes[Int(k - p.offset)] != payload[Int(k - start)] { differs = true; break }
            if differs { context.notice("tcp.overlap_conflict") } else { context.counters.add("tcp.overlap_pending") }
            if p.offset > cursor { pieces.append((cursor, p.offset)) }
            cursor = max(cursor, p.end)
            i += 1
        }
        if cursor < end { pieces.append((cursor, end)) }
        // Held segments are disjoint: each new piece goes in front of the first held one after it.
        var idx = firstOverlap
        for (a, b) in pieces {
            while idx < pending.count && pending[idx].offset < a { idx += 1 }
            let bytes = Array(payload[Int(a - start)..<Int(b - start)])
            pending.insert(Pending(offset: a, bytes: bytes), at: idx)
            idx += 1
            pendingBytes += bytes.count
            context.pendingBytesTotal += bytes.count
        }
    }

    /// Delivers held segments that now follow without a hole.
    private mutating func drainContiguous(context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        while let first = pending.first, first.offset <= delivered {
            releasePending(at: 0, context: &context)
            if first.end <= delivered { continue }
            let skip = Int(delivered - first.offset)
            let from = delivered
            delivered = first.end
            first.bytes.withUnsafeBytes { raw in
                remember(UnsafeRawBufferPointer(rebasing: raw[skip...]), context: &context)
                emitData(UnsafeRawBufferPointer(rebasing: raw[skip...]), at: from, context: &context, emit: emit)
            }
        }
    }

    /// Hands `bytes` (stream offset `at`) to the parser, without the urgent byte if it is among them.
    private mutating func emitData(_ bytes: UnsafeRawBufferPointer, at: UInt64,
                                   context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        guard let mark = urgentOffset, mark < at + UInt64(bytes.count) else {
            emit(.data(bytes))
            return
        }
        urgentOffset = nil
        guard mark >= at else { emit(.data(bytes)); return }
        context.notice("tcp.urgent_byte_removed")
        let cut = Int(mark - at)
        if cut > 0 { emit(.data(UnsafeRawBufferPointer(rebasing: bytes[..<cut]))) }
        if cut + 1 < bytes.count { emit(.data(UnsafeRawBufferPointer(rebasing: bytes[(cut + 1)...]))) }
    }

    /// Gives up on the bytes before `target`: reports each hole, delivering held data between them.
    private mutating func declareGap(upTo target: UInt64, context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        while delivered < target {
            // Held data inside the range is not part of the hole.
            let holeEnd = min(target, pending.first?.offset ?? target)
            if holeEnd > delivered {
                let length = Int(clamping: holeEnd - delivered)
                context.gaps &+= 1
                context.gapBytes &+= length
                forgetRecent(context: &context)
                delivered = holeEnd
                emit(.gap(length))
            }
            drainContiguous(context: &context, emit: emit)
        }
        drainContiguous(context: &context, emit: emit)
    }

    private mutating func finishIfComplete(context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        guard let fin = finOffset, delivered >= fin, !finished else { return }
        finished = true
        releaseAll(context: &context)
        emit(.end)
    }

    private mutating func releasePending(at index: Int, context: inout ReassemblyContext) {
        let n = pending[index].bytes.count
        pendingBytes -= n
        context.pendingBytesTotal -= n
        pending.remove(at: index)
    }

    private mutating func releaseAll(context: inout ReassemblyContext) {
        forgetRecent(context: &context)
        context.pendingBytesTotal -= pendingBytes
        pendingBytes = 0
        pending.removeAll()
    }
}
