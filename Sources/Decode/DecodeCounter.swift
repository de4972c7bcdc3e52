/// The names of the counters `PacketDecoder` increments in its `counters`, all under "decode.".
///
/// A `nil` from `decode()` increments exactly one of the *drop* counters (marked ⊘), or, for a
/// fragment held for reassembly, `ipv4Fragments` / `ipv6Fragments`. The others mark anomalies in
/// packets that were still decoded, or fragment-table events.
public enum DecodeCounter {
    // Link layer
    /// ⊘ The link type is not one `LinkType` lists.
    public static let unsupportedLinkType = "decode.unsupported_linktype"
    /// ⊘ The frame ends inside the link-layer header or a VLAN tag.
    public static let truncatedLink = "decode.truncated_link"
    /// ⊘ EtherType / address family is not IPv4 or IPv6 (ARP, LLC, LLDP, ...).
    public static let notIP = "decode.not_ip"

    // IP
    /// ⊘ The version nibble is not 4 or 6, or not the one the link layer announced.
    public static let badIPVersion = "decode.bad_ip_version"
    /// ⊘ The IP header (or an IPv6 extension header) was cut by the snaplen.
    public static let truncatedIP = "decode.truncated_ip"
    /// ⊘ IPv4 header length below 20, or total length below the header length.
    public static let ipv4BadHeader = "decode.ipv4_bad_header"
    /// IPv4 total length 0 (TSO / BIG TCP capture on the sender): the frame length was used.
    public static let ipv4ZeroLength = "decode.ipv4_zero_length"
    /// IPv6 payload length 0 (jumbogram / BIG TCP): the frame length was used.
    public static let ipv6ZeroLength = "decode.ipv6_zero_length"
    /// The IP length says more than the frame carried on the wire: the payload is marked truncated.
    public static let ipLengthExceedsFrame = "decode.ip_length_exceeds_frame"
    /// ⊘ An IPv6 extension header runs past the packet, or there are more than the limit allows.
    public static let ipv6ExtHeadersBad = "decode.ipv6_ext_headers_bad"
    /// ⊘ IPv6 ESP: the rest is encrypted.
    public static let ipv6ESP = "decode.ipv6_esp"
    /// ⊘ Not TCP or UDP (ICMP, No Next Header, ...).
    public static let notTCPUDP = "decode.not_tcp_udp"

    // Transport
    /// ⊘ The TCP header was cut by the snaplen.
    public static let truncatedTCP = "decode.truncated_tcp"
    /// ⊘ TCP data offset below 5, or the header is longer than the IP packet.
    public static let tcpBadHeader = "decode.tcp_bad_header"
    /// ⊘ The UDP header was cut by the snaplen.
    public static let truncatedUDP = "decode.truncated_udp"
    /// ⊘ UDP length below 8, or the IP packet is shorter than 8 bytes of UDP.
    public static let udpBadHeader = "decode.udp_bad_header"
    /// The UDP length says more than the IP packet holds: the IP length was trusted.
    public static let udpBadLength = "decode.udp_bad_length"

    // Fragments
    /// Every IPv4 fragment seen.
    public static let ipv4Fragments = "decode.ipv4_fragments"
    /// IPv4 datagrams completed from fragments.
    public static let ipv4FragmentsReassembled = "decode.ipv4_fragments_reassembled"
    /// Every IPv6 fragment seen (atomic fragments excluded).
    public static let ipv6Fragments = "decode.ipv6_fragments"
    /// IPv6 datagrams completed from fragments.
    public static let ipv6FragmentsReassembled = "decode.ipv6_fragments_reassembled"
    /// A datagram was evicted or refused: too many datagrams, bytes, or fragments per datagram.
    public static let fragmentLimit = "decode.fragment_limit"
    /// A fragment overlapped bytes already received (a duplicate is ignored, any other overlap drops the datagram).
    public static let fragmentOverlap = "decode.fragment_overlap"
    /// ... and the overlapping bytes differed from those kept (overlap evasion).
    public static let fragmentOverlapMismatch = "decode.fragment_overlap_mismatch"
    /// A fragment overlapped bytes already received without lying wholly inside them: the whole
    /// datagram was discarded, as Linux and RFC 5722 do.
    public static let fragmentOverlapDropped = "decode.fragment_overlap_dropped"
    /// A datagram was not completed within `DecodeLimits.fragmentTimeoutSeconds`.
    public static let fragmentTimeout = "decode.fragment_timeout"
    /// A non-last fragment that is empty or not a multiple of 8 bytes (ignored).
    public static let fragmentBad = "decode.fragment_bad"
    /// A fragment reaching past 65535 bytes (its datagram is dropped).
    public static let fragmentTooBig = "decode.fragment_too_big"
    /// A fragment contradicting the length fixed by the first last-fragment (ignored).
    public static let fragmentInconsistent = "decode.fragment_inconsistent"
    /// A fragment not captured whole (snaplen): it cannot take part in reassembly.
    public static let fragmentTruncated = "decode.fragment_truncated"
}
