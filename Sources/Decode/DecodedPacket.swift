import SonarCore

/// TCP header flags (the low byte of the flags word; the NS bit is ignored).
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let fin = TCPFlags(rawValue: 0x01)
    public static let syn = TCPFlags(rawValue: 0x02)
    public static let rst = TCPFlags(rawValue: 0x04)
    public static let psh = TCPFlags(rawValue: 0x08)
    public static let ack = TCPFlags(rawValue: 0x10)
    public static let urg = TCPFlags(rawValue: 0x20)
    public static let ece = TCPFlags(rawValue: 0x40)
    public static let cwr = TCPFlags(rawValue: 0x80)
}

/// The TCP header fields the flow layer needs. All zero for UDP packets.
public struct TCPInfo: Sendable, Hashable {
    public var seq: UInt32
    public var ack: UInt32
    public var flags: TCPFlags
    public var window: UInt16
    public var urgentPointer: UInt16

    public init(seq: UInt32 = 0, ack: UInt32 = 0, flags: TCPFlags = [], window: UInt16 = 0, urgentPointer: UInt16 = 0) {
        self.seq = seq
        self.ack = ack
        self.flags = flags
        self.window = window
        self.urgentPointer = urgentPointer
    }

    public static let zero = TCPInfo()
}

/// One TCP or UDP packet, decoded down to its transport payload.
///
/// `payload` is *borrowed*: it points either into the caller's packet bytes or, for a datagram
/// reassembled from fragments, into storage owned by the `PacketDecoder` that produced it. It is
/// valid only until the next `decode()` call on that decoder (and never longer than the caller's
/// bytes or the decoder live). Copy the bytes to keep them.
public struct DecodedPacket {
    public var timestamp: Timestamp
    public var src: IPAddress
    public var dst: IPAddress
    /// `.tcp` or `.udp`.
    public var transport: TransportProtocol
    public var srcPort: UInt16
    public var dstPort: UInt16
    /// TCP header fields; `TCPInfo.zero` for UDP.
    public var tcp: TCPInfo
    /// The captured part of the transport payload (borrowed, see the type's documentation).
    public var payload: UnsafeRawBufferPointer
    /// True when fewer payload bytes were captured than the IP/TCP/UDP headers say the packet
    /// carried (snaplen, or a frame shorter than its IP length): `payload` then holds only the
    /// captured part and `payloadLength` says how long it really was.
    public var payloadTruncated: Bool
    /// Payload length according to the headers (IP total/payload length minus the headers, or
    /// the UDP length). Equals `payload.count` unless `payloadTruncated`.
    public var payloadLength: Int
    /// IPv4 TTL or IPv6 hop limit (of the first fragment, for a reassembled datagram).
    public var ttl: UInt8
    /// True when the datagram was reassembled from IPv4 (or IPv6) fragments.
    public var fromFragments: Bool
    /// Length of the frame on the wire, as the capture reported it (never less than captured).
    public var wireLength: Int

    public init(timestamp: Timestamp, src: IPAddress, dst: IPAddress, transport: TransportProtocol,
                srcPort: UInt16, dstPort: UInt16, tcp: TCPInfo = .zero,
                payload: UnsafeRawBufferPointer, payloadTruncated: Bool = false, payloadLength: Int? = nil,
                ttl: UInt8 = 64, fromFragments: Bool = false, wireLength: Int = 0) {
        self.timestamp = timestamp
        self.src = src
        self.dst = dst
        self.transport = transport
        self.srcPort = srcPort
        self.dstPort = dstPort
        self.tcp = tcp
        self.payload = payload
        self.payloadTruncated = payloadTruncated
        self.payloadLength = payloadLength ?? payload.count
        self.ttl = ttl
        self.fromFragments = fromFragments
        self.wireLength = wireLength
    }

    /// The sending side.
    public var source: Endpoint { Endpoint(address: src, port: srcPort) }
    /// The receiving side.
    public var destination: Endpoint { Endpoint(address: dst, port: dstPort) }
}

/// Bounds on what the decoder holds across packets (only IP fragment reassembly holds anything).
public struct DecodeLimits: Sendable, Equatable {
    /// Datagrams being reassembled at once. When full, the oldest is evicted ("decode.fragment_limit").
    public var maxFragmentBuffers: Int = 1024
    /// Bytes held by all datagrams being reassembled (bytes placed; the allocator may add up to 2x).
    /// Oldest datagrams are evicted to make room.
    public var maxFragmentBytesTotal: Int = 16 * 1024 * 1024
    /// A datagram not complete this many seconds (packet time) after its first fragment is dropped.
    public var fragmentTimeoutSeconds: Int = 30
    /// Fragments accepted for one datagram; more drops the datagram (defends against tiny-fragment floods).
    public var maxFragmentsPerDatagram: Int = 256
    /// IPv6 extension headers walked before the packet is judged malformed.
    public var maxIPv6ExtensionHeaders: Int = 16

    public init() {}
}

extension DecodedPacket {
    /// What names this packet's flow.
    public var flowTuple: FlowTuple {
        FlowTuple(src: src, dst: dst, transport: transport, srcPort: srcPort, dstPort: dstPort)
    }
}

/// What names a packet's flow: its addresses, ports and transport (`PacketDecoder.flowTuple`).
public struct FlowTuple: Equatable, Sendable {
    public var src: IPAddress
    public var dst: IPAddress
    public var transport: TransportProtocol
    public var srcPort: UInt16
    public var dstPort: UInt16

    public init(src: IPAddress, dst: IPAddress, transport: TransportProtocol, srcPort: UInt16, dstPort: UInt16) {
        self.src = src
        self.dst = dst
        self.transport = transport
        self.srcPort = srcPort
        self.dstPort = dstPort
    }
}
