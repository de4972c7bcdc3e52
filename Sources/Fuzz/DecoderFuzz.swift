import SonarCore
import SonarDecode

/// `PacketDecoder` as the engine drives it: one decoder for a capture's link type, frame after
/// frame (so IPv4/IPv6 fragments meet across frames), the clock moving forward.
///
/// Input: byte 0 picks the link type; the rest is frames in the `StreamSteps` format (a cut or a
/// direction switch ends a frame; a cut's argument adds `64 × argument` bytes to the frame's wire
/// length, as a snaplen would; a gap advances the clock by its length in seconds and expires
/// fragments; an end expires everything).
enum DecoderFuzz {
    static let linkTypes: [Int32] = [
        LinkType.ethernet, LinkType.linuxSLL, LinkType.linuxSLL2, LinkType.null, LinkType.loop,
        LinkType.raw, LinkType.raw14, LinkType.linkTypeRaw, LinkType.ipv4, LinkType.ipv6,
        147, // an unsupported link type (DLT_USER0)
    ]

    /// Small limits, so the fragment limits are reached by inputs of a few KB.
    static let limits: DecodeLimits = {
        var l = DecodeLimits()
        l.maxFragmentBuffers = 8
        l.maxFragmentBytesTotal = 16 << 10
        l.maxFragmentsPerDatagram = 16
        l.maxIPv6ExtensionHeaders = 8
        l.fragmentTimeoutSeconds = 30
        return l
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        var reader = FuzzReader(input)
        let linkType = linkTypes[Int(reader.byte()) % linkTypes.count]
        let steps = StreamSteps.parse(reader.rest())
        var decoder = PacketDecoder(limits: limits)
        var clock = Timestamp(seconds: 1_700_000_000, microseconds: 0)
        for (index, step) in steps.enumerated() {
            switch step {
            case .feed(_, let frame):
                var wire = frame.count
                if index + 1 < steps.count, case .cut(let extra) = steps[index + 1] { wire += 64 * extra }
                clock = Timestamp(microseconds: clock.microseconds + 1)
                frame.withUnsafeBytes { bytes in
                    decode(bytes, wireLength: wire, linkType: linkType, clock: clock, decoder: &decoder)
                }
            case .gap(_, let seconds):
                clock = clock.adding(seconds: Int64(seconds))
                decoder.expireFragments(now: clock)
            case .end:
                clock = clock.adding(seconds: 3600)
                decoder.expireFragments(now: clock)
                fuzzCheck(decoder.fragmentBuffersInUse == 0, "fragments left after expiry: \(decoder.fragmentBuffersInUse)")
                fuzzCheck(decoder.fragmentBytesInUse == 0, "fragment bytes left after expiry: \(decoder.fragmentBytesInUse)")
            case .cut:
                break
            }
            fuzzCheck(decoder.fragmentBuffersInUse <= limits.maxFragmentBuffers,
                      "fragment buffers \(decoder.fragmentBuffersInUse) > \(limits.maxFragmentBuffers)")
            fuzzCheck(decoder.fragmentBytesInUse <= limits.maxFragmentBytesTotal,
                      "fragment bytes \(decoder.fragmentBytesInUse) > \(limits.maxFragmentBytesTotal)")
            fuzzCheck(decoder.fragmentBytesInUse >= 0, "negative fragment bytes")
        }
    }

    private static func decode(_ bytes: UnsafeRawBufferPointer, wireLength: Int, linkType: Int32,
                               clock: Timestamp, decoder: inout PacketDecoder) {
        // The flow hint read ahead of decoding: never past the frame, and where it answers for a
        // packet `decode` gives whole, the flow `decode` names.
        let hint = PacketDecoder.flowTuple(bytes, linkType: linkType)
        guard let p = decoder.decode(bytes, wireLength: wireLength, linkType: linkType, timestamp: clock) else { return }
        if !p.fromFragments, let hint {
            fuzzCheck(hint == p.flowTuple, "flow hint \(hint) but decoded \(p.flowTuple)")
        }
        _ = fuzzTouch(p.payload)
        fuzzCheck(p.payload.count <= p.payloadLength, "payload \(p.payload.count) longer than its headers say \(p.payloadLength)")
        fuzzCheck(p.payloadTruncated || p.payload.count == p.payloadLength,
                  "payload \(p.payload.count) != \(p.payloadLength) but not marked truncated")
        fuzzCheck(p.wireLength >= bytes.count, "wire length \(p.wireLength) < captured \(bytes.count)")
        fuzzCheck(p.transport == .tcp || p.tcp == .zero, "UDP packet with TCP fields")
        if !p.fromFragments, let base = bytes.baseAddress, let start = p.payload.baseAddress {
            // A payload that was not reassembled is a view into the frame itself.
            let offset = start - base
            fuzzCheck(offset >= 0 && offset + p.payload.count <= bytes.count,
                      "payload [\(offset), +\(p.payload.count)) outside the frame of \(bytes.count) bytes")
        }
        if p.fromFragments {
            fuzzCheck(p.payload.count <= 65535, "reassembled payload of \(p.payload.count) bytes")
        }
    }
}
