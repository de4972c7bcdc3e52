import SonarCore

/// Identifies one fragmented datagram: RFC 791 keys on (src, dst, protocol, id); RFC 8200 on
/// (src, dst, id), so IPv6 keys use protocol 0 and a 32-bit id.
struct FragmentKey: Hashable {
    var src: IPAddress
    var dst: IPAddress
    var id: UInt32
    var proto: UInt8
}

/// A datagram whose fragments are arriving.
struct FragmentDatagram {
    var firstSeen: Timestamp
    /// Fragment payload bytes placed at their offsets; grows to the highest end seen.
    var data: [UInt8] = []
    /// Byte ranges received so far: sorted, disjoint and merged, so "complete" is one range.
    var received: [Range<Int>] = []
    /// Payload length, known once the last fragment (MF = 0) has arrived.
    var totalLength: Int?
    var fragments = 0
    /// TTL / hop limit of the fragment at offset 0.
    var ttl: UInt8 = 0
    /// IPv6: Next Header of the Fragment header of the offset-0 fragment.
    var nextHeader: UInt8 = 0
    var haveFirst = false

    var isComplete: Bool {
        guard let total = totalLength, received.count == 1, let r = received.first else { return false }
        return r.lowerBound == 0 && r.upperBound == total
    }
}

/// Bounded IP fragment reassembly, shared by IPv4 and IPv6.
///
/// Policy (documented for the IDS analyst, as Suricata and Snort do):
/// - Overlaps, as Linux (since 4.19/5.0, `inet_frag_queue_insert`) and RFC 5722 do for both IP
///   versions: a fragment that lies wholly inside bytes already received is a duplicate and is
///   ignored (the bytes kept are the first ones); any other overlap discards the whole datagram
///   ("decode.fragment_overlap_dropped"), so the sensor never reads a datagram the endpoint
///   threw away, and reads the retransmission the endpoint reads. Every overlap counts
///   "decode.fragment_overlap"; a duplicate whose bytes differ also counts
///   "decode.fragment_overlap_mismatch" (the signature of overlap-based evasion).
/// - The first last-fragment (MF = 0) fixes the length; a fragment that contradicts it (ends past
///   it, or a second, different end) is ignored and counted "decode.fragment_inconsistent".
/// - A non-last fragment whose length is not a multiple of 8, or an empty one, is ignored
///   ("decode.fragment_bad"); a datagram longer than 65535 bytes is dropped ("decode.fragment_too_big").
/// - Timeout by packet time from the first fragment ("decode.fragment_timeout"); table size, total
///   bytes and fragments per datagram are bounded, the oldest datagram is evicted first
///   ("decode.fragment_limit").
struct FragmentReassembler {
    let limits: DecodeLimits
    private(set) var table: [FragmentKey: FragmentDatagram] = [:]
    /// Sum of `data.count` over all datagrams.
    private(set) var bytesInUse = 0
    /// Packet time of the next periodic sweep of the table.
    private var nextSweep = Timestamp.zero

    static let maxDatagram = 65535

    init(limits: DecodeLimits) { self.limits = limits }

    /// Drops datagrams whose time is up. Free when nothing is buffered; otherwise scans the table
    /// at most once per second of packet time. A clock that jumps back by more than a second (a new
    /// capture file, a merged capture) re-arms the sweep instead of stalling it until time catches up.
    mutating func expireIfDue(now: Timestamp, counters: inout Counters) {
        guard !table.isEmpty else { return }
        let rearm = now.microseconds < nextSweep.microseconds &- 2_000_000
        guard now >= nextSweep || rearm else { return }
        nextSweep = now.adding(seconds: 1)
        expire(now: now, counters: &counters)
    }

    private var timeoutMicroseconds: Int64 { Int64(limits.fragmentTimeoutSeconds) &* 1_000_000 }

    mutating func expire(now: Timestamp, counters: inout Counters) {
        let deadline = timeoutMicroseconds
        var dead: [FragmentKey] = []
        for (key, dg) in table where now.microseconds &- dg.firstSeen.microseconds > deadline {
            dead.append(key)
        }
        for key in dead {
            remove(key)
            counters.add(DecodeCounter.fragmentTimeout)
        }
    }

    private mutating func remove(_ key: FragmentKey) {
        if let dg = table.removeValue(forKey: key) { bytesInUse -= dg.data.count }
    }

    /// Evicts the datagram that started first, other than `keeping`. Returns false if there is none.
    private mutating func evictOldest(keeping: FragmentKey?, counters: inout Counters) -> Bool {
        var oldest: (key: FragmentKey, t: Timestamp)?
        for (key, dg) in table where key != keeping {
            if let o = oldest, o.t <= dg.firstSeen { continue }
            oldest = (key, dg.firstSeen)
        }
        guard let victim = oldest else { return false }
        remove(victim.key)
        counters.add(DecodeCounter.fragmentLimit)
        return true
    }

    /// Adds one fragment. `fragment` is the fragment's payload, all of it captured.
    /// Returns the completed datagram (removed from the table), or nil while incomplete or dropped.
    mutating func add(key: FragmentKey, offset: Int, moreFragments: Bool, fragment: UnsafeRawBufferPointer,
                      ttl: UInt8, nextHeader: UInt8, now: Timestamp, counters: inout Counters) -> FragmentDatagram? {
        let length = fragment.count
        let end = offset + length
        if moreFragments && (length == 0 || length % 8 != 0) {
            counters.add(DecodeCounter.fragmentBad)
            return nil
        }
        if end > Self.maxDatagram {
            counters.add(DecodeCounter.fragmentTooBig)
            remove(key)
            return nil
        }

        // A datagram already past its time starts afresh (the periodic sweep is coarse).
        if let dg = table[key], now.microseconds &- dg.firstSeen.microseconds > timeoutMicroseconds {
            remove(key)
            counters.add(DecodeCounter.fragmentTimeout)
        }
        if table[key] == nil {
            while table.count >= max(1, limits.maxFragmentBuffers) {
                if !evictOldest(keeping: nil, counters: &counters) { break }
            }
            table[key] = FragmentDatagram(firstSeen: now)
        }
        guard var dg = table[key] else { return nil }

        // Consistency with the length fixed by the first last-fragment.
        if let total = dg.totalLength {
            if end > total || (!moreFragments && end != total) {
                counters.add(DecodeCounter.fragmentInconsistent)
                return nil
            }
        } else if !moreFragments, let last = dg.received.last, last.upperBound > end {
            counters.add(DecodeCounter.fragmentInconsistent)
            return nil
        }

        // Overlap with bytes already received: a duplicate is ignored, anything else ends the datagram.
        for r in dg.received where r.lowerBound < end && offset < r.upperBound {
            counters.add(DecodeCounter.fragmentOverlap)
            if offset >= r.lowerBound && end <= r.upperBound {
                let differs = dg.data.withUnsafeBytes { kept in
                    (0..<length).contains { kept[offset + $0] != fragment[$0] }
                }
                if differs { counters.add(DecodeCounter.fragmentOverlapMismatch) }
                return nil
            }
            counters.add(DecodeCounter.fragmentOverlapDropped)
            remove(key)
            return nil
        }

        dg.fragments += 1
        if dg.fragments > max(1, limits.maxFragmentsPerDatagram) {
            counters.add(DecodeCounter.fragmentLimit)
            remove(key)
            return nil
        }

        // Room for the bytes: evict older datagrams, or give up on this one.
        let grow = max(0, end - dg.data.count)
        if grow > 0 {
            while bytesInUse + grow > limits.maxFragmentBytesTotal {
                if !evictOldest(keeping: key, counters: &counters) { break }
            }
            if bytesInUse + grow > limits.maxFragmentBytesTotal {
                counters.add(DecodeCounter.fragmentLimit)
                remove(key)
                return nil
            }
            // Take the entry out of the table while it is mutated, so its array is not shared (no copy).
            table[key] = nil
            dg.data.append(contentsOf: repeatElement(0, count: grow))
            bytesInUse += grow
        } else {
            table[key] = nil
        }

        if !moreFragments { dg.totalLength = end }
        if offset == 0 {
            dg.haveFirst = true
            dg.ttl = ttl
            dg.nextHeader = nextHeader
        }

        place(&dg, offset: offset, fragment: fragment, counters: &counters)

        if dg.isComplete {
            bytesInUse -= dg.data.count
            return dg
        }
        table[key] = dg
        return nil
    }

    /// Copies the parts of `fragment` not yet received (first wins) and merges the received ranges.
    private func place(_ dg: inout FragmentDatagram, offset: Int, fragment: UnsafeRawBufferPointer,
                       counters: inout Counters) {
        let end = offset + fragment.count
        guard end > offset else { return }
        var overlap = false
        var mismatch = false
        var cursor = offset  // first byte of the new fragment not yet dealt with
        dg.data.withUnsafeMutableBytes { dst in
            for r in dg.received {
                if r.upperBound <= cursor { continue }
                if r.lowerBound >= end { break }
                // Gap before this range: new bytes.
                if r.lowerBound > cursor {
                    copy(fragment, from: cursor - offset, to: dst, at: cursor, count: r.lowerBound - cursor)
                }
                // Overlap with kept bytes: compare, keep the old ones.
                let lo = max(r.lowerBound, cursor), hi = min(r.upperBound, end)
                overlap = true
                if !mismatch {
                    for i in lo..<hi where dst[i] != fragment[i - offset] { mismatch = true; break }
                }
                cursor = hi
                if cursor >= end { break }
            }
            if cursor < end {
                copy(fragment, from: cursor - offset, to: dst, at: cursor, count: end - cursor)
            }
        }
        if overlap { counters.add(DecodeCounter.fragmentOverlap) }
        if mismatch { counters.add(DecodeCounter.fragmentOverlapMismatch) }

        // Merge [offset, end) into the sorted range list.
        var merged = offset..<end
        var out: [Range<Int>] = []
        out.reserveCapacity(dg.received.count + 1)
        var inserted = false
        for r in dg.received {
            if r.upperBound < merged.lowerBound {
                out.append(r)
            } else if r.lowerBound > merged.upperBound {
                if !inserted { out.append(merged); inserted = true }
                out.append(r)
            } else {
                merged = min(r.lowerBound, merged.lowerBound)..<max(r.upperBound, merged.upperBound)
            }
        }
        if !inserted { out.append(merged) }
        dg.received = out
    }

    private func copy(_ src: UnsafeRawBufferPointer, from: Int, to dst: UnsafeMutableRawBufferPointer, at: Int, count: Int) {
        guard count > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        (d + at).copyMemory(from: s + from, byteCount: count)
    }
}
