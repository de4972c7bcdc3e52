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
    public init() {}
}

/// Shared accounting for every reassembler of one flow table.
public struct ReassemblyContext {
    public var limits: ReassemblyLimits
    public var counters = Counters()
    public var pendingBytesTotal = 0
    public var gaps = 0
    public var gapBytes = 0
    public init(limits: ReassemblyLimits) { self.limits = limits }
}

/// In-order delivery of one direction of a TCP connection.
///
/// Positions are kept as 64-bit offsets from the first byte of the stream, so sequence number
/// wrap-around is invisible past the point where a segment's 32-bit sequence number is placed
/// relative to the next expected one (valid for anything within ±2 GiB of it).
///
/// Overlap policy ("first wins"): bytes already delivered are never replaced, and bytes already
/// held out of order are not replaced by a later segment covering them; a later segment only fills
/// holes. When overlapping bytes differ, `tcp.overlap_conflict` is counted, because the endpoints
/// may have seen different bytes than we did.
public struct TCPReassembler {
    private struct Pending {
        var offset: UInt64
        var bytes: [UInt8]
        var end: UInt64 { offset + UInt64(bytes.count) }
    }

    /// Whether the start of this direction is known (SYN seen, or first data taken as the start).
    public private(set) var started = false
    /// Whether `.end` has been emitted.
    public private(set) var finished = false
    /// Sequence number of the stream's offset 0.
    private var baseSeq: UInt32 = 0
    /// Next offset the application expects: everything before it was delivered or declared a gap.
    public private(set) var delivered: UInt64 = 0
    private var finOffset: UInt64?
    private var pending: [Pending] = []
    public private(set) var pendingBytes = 0

    public init() {}

    /// Offset of sequence number `seq`, placed within ±2 GiB of the next expected byte.
    @inline(__always)
    private func offset(of seq: UInt32) -> UInt64? {
        let nextSeq = baseSeq &+ UInt32(truncatingIfNeeded: delivered)
        let rel = Int64(Int32(bitPattern: seq &- nextSeq))
        let off = Int64(delivered) + rel
        return off < 0 ? nil : UInt64(off)
    }

    /// A segment travelling in this direction.
    public mutating func segment(seq: UInt32, flags: TCPFlags, payload: UnsafeRawBufferPointer,
                                 context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        if finished { return }
        var seq = seq
        if flags.contains(.syn) {
            if !started {
                started = true
                baseSeq = seq &+ 1
            } else if delivered == 0 && pending.isEmpty && seq &+ 1 != baseSeq {
                // A second SYN with another ISN before any data: take the newer one.
                context.counters.add("tcp.syn_isn_changed")
                baseSeq = seq &+ 1
            }
            seq = seq &+ 1 // the SYN occupies one sequence number; data on a SYN follows it
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

    /// The peer acknowledged everything before `ack`. When that covers a hole in front of data we
    /// hold, the endpoint received bytes the capture missed: declare them a gap so parsing goes on
    /// behind them. (An acknowledgement alone, with nothing held, proves nothing on a capture that
    /// may reorder directions, so the tail of a stream waits for more data or for the close.)
    public mutating func acknowledged(_ ack: UInt32, context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        guard started, !finished, let first = pending.first, let ackOffset = offset(of: ack),
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

    /// Whether a RST with this sequence number is one the receiver would accept: near the next
    /// expected byte. A RST far outside is injection and must not end the stream.
    public func acceptsReset(seq: UInt32) -> Bool {
        guard started else { return true }
        guard let off = offset(of: seq) else { return false }
        return off &+ 1 >= delivered && off <= delivered &+ (1 << 20)
    }

    /// Releases whatever is held without delivering it (the flow is bypassed: nobody reads it).
    public mutating func dropHeld(context: inout ReassemblyContext) {
        releaseAll(context: &context)
    }

    // MARK: - internals

    private mutating func accept(start: UInt64, payload: UnsafeRawBufferPointer,
                                 context: inout ReassemblyContext, emit: (StreamEvent) -> Void) {
        let end = start + UInt64(payload.count)
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
            delivered = end
            emit(.data(fresh))
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
            context.counters.add("tcp.pending_limit")
            while let first = pending.first,
                  pendingBytes > context.limits.maxPendingBytesPerDirection / 2
                    || pending.count > context.limits.maxPendingSegmentsPerDirection / 2
                    || context.pendingBytesTotal > context.limits.maxPendingBytesTotal {
                declareGap(upTo: first.end, context: &context, emit: emit)
            }
        }
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
                if differs { context.counters.add("tcp.overlap_conflict") }
            }
            if p.end <= end {
                releasePending(at: i, context: &context)
            } else {
                i += 1
            }
        }
    }

    /// Holds an out-of-order segment, keeping only the parts that fill holes (first wins).
    private mutating func insertPending(start: UInt64, payload: UnsafeRawBufferPointer, context: inout ReassemblyContext) {
        var pieces: [(UInt64, UInt64)] = [(start, start + UInt64(payload.count))]
        for p in pending where p.offset < start + UInt64(payload.count) && p.end > start {
            // Compare the overlap with what is held, then cut it out of the new segment.
            let lo = max(p.offset, start), hi = min(p.end, start + UInt64(payload.count))
            var differs = false
            for k in lo..<hi where p.bytes[Int(k - p.offset)] != payload[Int(k - start)] { differs = true; break }
            context.counters.add(differs ? "tcp.overlap_conflict" : "tcp.overlap_pending")
            var next: [(UInt64, UInt64)] = []
            for (a, b) in pieces {
                if b <= p.offset || a >= p.end { next.append((a, b)); continue }
                if a < p.offset { next.append((a, p.offset)) }
                if b > p.end { next.append((p.end, b)) }
            }
            pieces = next
        }
        for (a, b) in pieces where b > a {
            let bytes = Array(payload[Int(a - start)..<Int(b - start)])
            let entry = Pending(offset: a, bytes: bytes)
            // Sorted insert; `pending` is short (bounded by the segment limit).
            var idx = pending.count
            while idx > 0 && pending[idx - 1].offset > a { idx -= 1 }
            pending.insert(entry, at: idx)
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
            delivered = first.end
            first.bytes.withUnsafeBytes { raw in
                emit(.data(UnsafeRawBufferPointer(rebasing: raw[skip...])))
            }
        }
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
        context.pendingBytesTotal -= pendingBytes
        pendingBytes = 0
        pending.removeAll()
    }
}
