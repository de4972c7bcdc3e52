import SonarDecode
import SonarFlow

/// The two `TCPReassembler`s of one connection with their shared `ReassemblyContext`, driven as
/// `Engine.process` drives them: the segment, then the ACK to the other direction, then a RST
/// obeyed only when `acceptsReset`; a bypass drops what is held; the end of input closes both.
///
/// Input: 8 bytes of initial sequence numbers (client, server), then operations. Each operation
/// byte `op`: bit 0 direction (0 client → server), bit 1 content from the input (else a pattern
/// whose byte is the low byte of its sequence number), bits 2–3 the kind:
/// - 0, 1 segment: a flags byte, a signed 16-bit delta from the direction's cursor (× 1, or
///   × 4096 when bit 4 of `op` is set), a length byte (× 16 when bit 5 is set), an ACK delta
///   byte when the flags have ACK, then the payload. The cursor moves to the segment's end.
/// - 2 a bare ACK from this direction: a signed delta byte × 64 from the other's cursor.
/// - 3 `op >> 4`: 0–5 close this direction (timeout/eviction), 6–11 bypass (drop held, stop),
///   12–15 end of input (close both).
///
/// Invariants checked after every step: held bytes within the per-direction limit, the shared
/// total equal to the sum of both directions, events after the end never, data never empty,
/// gaps positive, and delivered + gaps equal to the reassembler's position. When a direction only
/// ever carried pattern content, every delivered byte must be the low byte of its sequence
/// number: bytes placed at the wrong offset, or a gap of the wrong length, break the run.
enum ReassemblyFuzz {
    static let limits: ReassemblyLimits = {
        var l = ReassemblyLimits()
        l.maxPendingBytesPerDirection = 4096
        l.maxPendingSegmentsPerDirection = 32
        l.maxPendingBytesTotal = 6144
        l.maxReorderDistance = 1 << 16
        return l
    }()

    /// What the harness knows of one direction (the reassemblers themselves are kept apart, as
    /// their callbacks update this).
    private struct Side {
        var cursor: UInt32 = 0
        /// Only pattern content so far: delivered bytes must follow their sequence numbers.
        var patternOnly = true
        var expectedNext: UInt8?
        var position: UInt64 = 0
        var ended = false
    }

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzReader(input)
        var sides = [Side(), Side()]
        var reassemblers = [TCPReassembler(), TCPReassembler()]
        sides[0].cursor = reader.uint32()
        sides[1].cursor = reader.uint32()
        var context = ReassemblyContext(limits: limits)
        var bypassed = false
        var scratch: [UInt8] = []

        func deliver(_ event: StreamEvent, _ d: Int) {
            fuzzCheck(!sides[d].ended, "event after the end of direction \(d)")
            switch event {
            case .data(let bytes):
                fuzzCheck(!bytes.isEmpty, "empty data event")
                _ = fuzzTouch(bytes)
                if sides[d].patternOnly {
                    for b in bytes {
                        if let e = sides[d].expectedNext {
                            fuzzCheck(b == e, "byte \(b) at position \(sides[d].position) where \(e) was due")
                        }
                        sides[d].expectedNext = b &+ 1
                    }
                }
                sides[d].position += UInt64(bytes.count)
            case .gap(let length):
                fuzzCheck(length > 0, "gap of \(length)")
                if let e = sides[d].expectedNext { sides[d].expectedNext = e &+ UInt8(truncatingIfNeeded: length) }
                sides[d].position += UInt64(length)
            case .end:
                sides[d].ended = true
            }
        }

        func checkInvariants() {
            for d in 0..<2 {
                let r = reassemblers[d]
                fuzzCheck(r.pendingBytes >= 0 && r.pendingBytes <= limits.maxPendingBytesPerDirection,
                          "direction \(d) holds \(r.pendingBytes) bytes")
                fuzzCheck(sides[d].position == r.delivered,
                          "direction \(d): events cover \(sides[d].position) bytes, reassembler says \(r.delivered)")
                fuzzCheck(r.finished == sides[d].ended, "direction \(d): finished \(r.finished) but end event \(sides[d].ended)")
            }
            fuzzCheck(context.pendingBytesTotal == reassemblers[0].pendingBytes + reassemblers[1].pendingBytes,
                      "shared total \(context.pendingBytesTotal) != \(reassemblers[0].pendingBytes) + \(reassemblers[1].pendingBytes)")
            fuzzCheck(context.pendingBytesTotal <= limits.maxPendingBytesTotal, "shared total \(context.pendingBytesTotal) over its limit")
        }

        func closeBoth() {
            for d in 0..<2 { reassemblers[d].close(context: &context) { deliver($0, d) } }
        }

        while !reader.isAtEnd && !bypassed {
            let op = reader.byte()
            let d = Int(op & 1), other = 1 - d
            let fromInput = op & 2 != 0
            switch (op >> 2) & 3 {
            case 0, 1:
                let flags = TCPFlags(rawValue: reader.byte())
                let delta = Int32(Int16(bitPattern: reader.uint16())) &* (op & 0x10 != 0 ? 4096 : 1)
                let length = Int(reader.byte()) * (op & 0x20 != 0 ? 16 : 1)
                let ack = sides[other].cursor &+ UInt32(bitPattern: Int32(Int8(bitPattern: flags.contains(.ack) ? reader.byte() : 0)) &* 64)
                let seq = sides[d].cursor &+ UInt32(bitPattern: delta)
                let dataSeq = flags.contains(.syn) ? seq &+ 1 : seq
                scratch.removeAll(keepingCapacity: true)
                if fromInput {
                    scratch.append(contentsOf: reader.take(length))
                    if !scratch.isEmpty { sides[d].patternOnly = false }
                } else {
                    for k in 0..<length { scratch.append(UInt8(truncatingIfNeeded: dataSeq &+ UInt32(k))) }
                }
                sides[d].cursor = dataSeq &+ UInt32(scratch.count)
                scratch.withUnsafeBytes { payload in
                    reassemblers[d].segment(seq: seq, flags: flags, payload: payload, context: &context) { deliver($0, d) }
                }
                if flags.contains(.ack) {
                    reassemblers[other].acknowledged(ack, context: &context) { deliver($0, other) }
                }
                if flags.contains(.rst) && reassemblers[d].acceptsReset(seq: seq) { closeBoth() }
            case 2:
                let ack = sides[other].cursor &+ UInt32(bitPattern: Int32(Int8(bitPattern: reader.byte())) &* 64)
                reassemblers[other].acknowledged(ack, context: &context) { deliver($0, other) }
            default:
                switch op >> 4 {
                case 0...5:
                    reassemblers[d].close(context: &context) { deliver($0, d) }
                    fuzzCheck(reassemblers[d].pendingBytes == 0, "bytes held after close")
                case 6...11:
                    for k in 0..<2 { reassemblers[k].dropHeld(context: &context) }
                    fuzzCheck(context.pendingBytesTotal == 0, "bytes held after a bypass: \(context.pendingBytesTotal)")
                    bypassed = true
                default:
                    closeBoth()
                }
            }
            checkInvariants()
        }
        if !bypassed { closeBoth() }
        checkInvariants()
        fuzzCheck(context.pendingBytesTotal == 0, "bytes held at the end: \(context.pendingBytesTotal)")
    }
}
