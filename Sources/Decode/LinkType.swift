/// libpcap link-layer header types (DLT_/LINKTYPE_ values) that the decoder understands.
///
/// Values are the `Int32` that `pcap_datalink()` returns on Linux, or that a pcap/pcapng file
/// header records; both are accepted for raw IP (12 and 14 are the DLT values some platforms
/// use, 101 is the LINKTYPE value written into files).
public enum LinkType {
    /// BSD loopback: 4-byte address family in the host byte order of the capturing machine.
    public static let null: Int32 = 0
    /// Ethernet II, with any number of 802.1Q / 802.1ad / QinQ tags.
    public static let ethernet: Int32 = 1
    /// DLT_RAW as libpcap defines it on Linux: the packet starts with the IP header.
    public static let raw: Int32 = 12
    /// DLT_RAW on some BSDs: the packet starts with the IP header.
    public static let raw14: Int32 = 14
    /// OpenBSD loopback: 4-byte address family in network byte order.
    public static let loop: Int32 = 108
    /// Linux cooked capture v1 (`-i any` on older libpcap): 16-byte header.
    public static let linuxSLL: Int32 = 113
    /// LINKTYPE_RAW as written into capture files: the packet starts with the IP header.
    public static let linkTypeRaw: Int32 = 101
    /// Raw IPv4 only.
    public static let ipv4: Int32 = 228
    /// Raw IPv6 only.
    public static let ipv6: Int32 = 229
    /// Linux cooked capture v2 (`-i any` on libpcap 1.10+): 20-byte header.
    public static let linuxSLL2: Int32 = 276
}
