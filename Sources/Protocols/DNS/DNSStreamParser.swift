import SonarCore

/// DNS over TCP (RFC 1035 4.2.2, RFC 7766): each message is preceded by its length as two bytes.
/// One parser per connection, fed each direction's bytes in order; messages are split at any
/// byte boundary. A message is held until complete, so at most 2 + 65535 bytes are buffered per
/// direction; a message that arrives whole in one feed is parsed in place, without a copy.
///
/// Malformed messages are dropped and counted under their `DNSParseError.rawValue`.
/// Gaps: a gap inside a message whose length is known loses that message (`dns.gap_message_lost`)
/// and parsing resumes at the next one; any other gap (at a boundary, inside a length prefix, or
/// longer than the rest of the message) leaves no way to find the next boundary, so the direction
/// is given up (`dns.desync`) and its later bytes are ignored.
public final class DNSStreamParser {
    /// Largest message a 2-byte length can declare.
    public static let maxMessageBytes = 65535

    private struct Side {
        /// Bytes of the current message, its length prefix included.
        var buffer: [UInt8] = []
        /// Bytes still to skip of a message damaged by a gap.
        var skip = 0
        var desynchronised = false
    }

    private var sides = [Side(), Side()]
    public private(set) var counters = Counters()

    public init() {}

    /// Bytes held (capacity), for the engine's budget of application-layer buffers.
    public var bufferedBytes: Int { sides[0].buffer.capacity + sides[1].buffer.capacity }

    /// Feeds the next bytes of one direction; `emit` receives every message completed by them, in order.
    public func feed(_ bytes: UnsafeRawBufferPointer, direction: Direction, emit: (Direction, DNSMessage) -> Void) {
        Self.consume(bytes, side: &sides[direction.index], counters: &counters) { emit(direction, $0) }
    }

    /// `n` bytes of one direction were lost.
    public func gap(_ n: Int, direction: Direction) {
        guard n > 0 else { return }
        let i = direction.index
        guard !sides[i].desynchronised else { return }
        if sides[i].skip > 0 {
            if n <= sides[i].skip { sides[i].skip -= n; return }
        } else if sides[i].buffer.count >= 2 {
            let total = 2 + Int(sides[i].buffer.readBE16(at: 0))
            let remaining = total - sides[i].buffer.count
            if n <= remaining {
                sides[i].buffer.removeAll(keepingCapacity: true)
                sides[i].skip = remaining - n
                counters.add("dns.gap_message_lost")
                return
            }
        }
        sides[i] = Side(desynchronised: true)
        counters.add("dns.desync")
    }

    private static func consume(_ bytes: UnsafeRawBufferPointer, side: inout Side, counters: inout Counters,
                                emit: (DNSMessage) -> Void) {
        guard !side.desynchronised else { return }
        let n = bytes.count
        var off = 0
        while off < n {
            if side.skip > 0 {
                let take = min(side.skip, n - off)
                side.skip -= take
                off += take
                continue
            }
            if side.buffer.isEmpty {
                // Whole messages in this feed are parsed where they lie.
                if n - off >= 2 {
                    let total = 2 + Int(bytes.readBE16(at: off))
                    if n - off >= total {
                        deliver(UnsafeRawBufferPointer(rebasing: bytes[(off + 2)..<(off + total)]), counters: &counters, emit: emit)
                        off += total
                        continue
                    }
                }
                side.buffer.append(contentsOf: bytes[off..<n])
                return
            }
            if side.buffer.count < 2 {
                side.buffer.append(bytes[off])
                off += 1
                continue
            }
            let total = 2 + Int(side.buffer.readBE16(at: 0))
            let take = min(total - side.buffer.count, n - off)
            side.buffer.append(contentsOf: bytes[off..<(off + take)])
            off += take
            if side.buffer.count == total {
                side.buffer.withUnsafeBytes {
                    deliver(UnsafeRawBufferPointer(rebasing: $0[2...]), counters: &counters, emit: emit)
                }
                side.buffer.removeAll(keepingCapacity: true)
            }
        }
    }

    private static func deliver(_ message: UnsafeRawBufferPointer, counters: inout Counters, emit: (DNSMessage) -> Void) {
        switch DNSParser.parseResult(message) {
        case .success(let m): emit(m)
        case .failure(let e): counters.add(e.rawValue)
        }
    }
}

extension Array where Element == UInt8 {
    fileprivate func readBE16(at i: Int) -> UInt16 { UInt16(self[i]) << 8 | UInt16(self[i + 1]) }
}
