import CPcap
import SonarCore

/// One packet as libpcap hands it over: borrowed bytes, valid only until the next `next()` call.
public struct CapturedPacket {
    public var timestamp: Timestamp
    /// The captured bytes (`caplen`), never more: a snaplen-truncated packet is shorter than `wireLength`.
    public var bytes: UnsafeRawBufferPointer
    /// The packet's length on the wire (`len`).
    public var wireLength: Int

    /// A packet from elsewhere than libpcap (generated traffic: `Stress`).
    public init(timestamp: Timestamp, bytes: UnsafeRawBufferPointer, wireLength: Int) {
        self.timestamp = timestamp
        self.bytes = bytes
        self.wireLength = wireLength
    }
}

public enum CaptureError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(String)
    case badFilter(String)

    public var description: String {
        switch self {
        case .cannotOpen(let s): return s
        case .badFilter(let s): return s
        }
    }
}

/// What reading one more packet gave.
public enum CaptureResult {
    case packet(CapturedPacket)
    /// Live capture only: no packet within the read timeout.
    case timeout
    /// The file ended cleanly (or live capture was broken off).
    case end
    /// The file is damaged (for example cut short part-way): reading stops here.
    case error(String)
}

/// Kernel-side counters of a live capture (`pcap_stats`).
public struct CaptureStats: Sendable, Equatable {
    public var received: UInt64
    public var dropped: UInt64
    public var interfaceDropped: UInt64
}

/// Settings for a live capture, as tcpdump names them.
public struct LiveCaptureOptions: Sendable {
    public var snaplen: Int32 = 262_144
    public var promiscuous = true
    public var immediate = true
    /// Kernel ring size. In immediate mode libpcap uses fixed frames sized by the snaplen, so
    /// libpcap's 2 MB default holds only ~8 full-size packets and drops bursts: 64 MiB holds 256.
    public var bufferSize: Int32? = 64 << 20
    public var readTimeoutMilliseconds: Int32 = 100
    public init() {}
}

/// A libpcap handle reading a capture file (pcap or pcapng) or a live interface.
/// `final class` because it owns the C handle and closes it exactly once.
public final class PcapSource {
    private let handle: OpaquePointer
    public let linkType: Int32
    public let name: String
    public let isLive: Bool

    private init(handle: OpaquePointer, name: String, isLive: Bool) {
        self.handle = handle
        self.name = name
        self.isLive = isLive
        self.linkType = pcap_datalink(handle)
    }

    deinit { pcap_close(handle) }

    /// Opens a pcap or pcapng file with microsecond timestamps.
    public static func openFile(_ path: String) throws(CaptureError) -> PcapSource {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_MICRO), &errbuf) else {
            throw .cannotOpen("\(path): \(cText(errbuf))")
        }
        return PcapSource(handle: h, name: path, isLive: false)
    }

    /// Opens a live interface (`lo`, `any`, `eth0`, ...) and applies an optional BPF filter.
    public static func openLive(_ interface: String, options: LiveCaptureOptions, filter: String?) throws(CaptureError) -> PcapSource {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        guard let h = pcap_create(interface, &errbuf) else {
            throw .cannotOpen("\(interface): \(cText(errbuf))")
        }
        pcap_set_snaplen(h, options.snaplen)
        pcap_set_promisc(h, options.promiscuous ? 1 : 0)
        pcap_set_timeout(h, options.readTimeoutMilliseconds)
        pcap_set_immediate_mode(h, options.immediate ? 1 : 0)
        pcap_set_tstamp_precision(h, Int32(PCAP_TSTAMP_PRECISION_MICRO))
        if let size = options.bufferSize { pcap_set_buffer_size(h, size) }
        let status = pcap_activate(h)
        if status < 0 {
            let message = String(cString: pcap_geterr(h))
            pcap_close(h)
            throw .cannotOpen("\(interface): \(message.isEmpty ? String(cString: pcap_statustostr(status)) : message)")
        }
        let source = PcapSource(handle: h, name: interface, isLive: true)
        if let filter, !filter.isEmpty {
            try source.setFilter(filter)
        }
        return source
    }

    /// Compiles and installs a BPF filter; libpcap's own message on failure.
    public func setFilter(_ expression: String) throws(CaptureError) {
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .badFilter("invalid BPF filter '\(expression)': \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(handle, &program) != 0 {
            throw .badFilter("cannot apply BPF filter: \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// Reads the next packet. The returned bytes are libpcap's buffer: no copy is made.
    public func next() -> CaptureResult {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = pcap_next_ex(handle, &header, &data)
        switch rc {
        case 1:
            guard let header, let data else { return .error("\(name): libpcap returned no packet data") }
            let h = header.pointee
            let ts = Timestamp(seconds: Int64(h.ts.tv_sec), microseconds: Int64(h.ts.tv_usec))
            // caplen, not len: reading `len` bytes would run past the buffer whenever snaplen cut the packet.
            let bytes = UnsafeRawBufferPointer(start: data, count: Int(h.caplen))
            return .packet(CapturedPacket(timestamp: ts, bytes: bytes, wireLength: Int(h.len)))
        case 0:
            return .timeout
        case -2: // PCAP_ERROR_BREAK: end of file, or pcap_breakloop on a live handle
            return .end
        default:
            return .error("\(name): \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// Switches a live handle to non-blocking reads: `next()` then returns `.timeout` at once when
    /// nothing is queued (used to drain what was captured before stopping).
    public func setNonBlocking() {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        _ = pcap_setnonblock(handle, 1, &errbuf)
    }

    /// Makes a blocked or looping `next()` return `.end`.
    public func breakLoop() { pcap_breakloop(handle) }

    /// The handle as an integer, for a signal handler that must reach it without Swift references.
    public var handleBits: UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(handle))) }

    /// `breakLoop` on a handle given by `handleBits` (0: nothing to break). Async-signal-safe.
    public static func breakLoop(handleBits: UInt) {
        guard handleBits != 0, let h = OpaquePointer(bitPattern: handleBits) else { return }
        pcap_breakloop(h)
    }

    /// Kernel statistics of a live capture; nil for files.
    public func stats() -> CaptureStats? {
        guard isLive else { return nil }
        var s = pcap_stat()
        guard pcap_stats(handle, &s) == 0 else { return nil }
        return CaptureStats(received: UInt64(s.ps_recv), dropped: UInt64(s.ps_drop), interfaceDropped: UInt64(s.ps_ifdrop))
    }

    /// Names of the interfaces libpcap can open, with descriptions.
    public static func interfaces() throws(CaptureError) -> [(name: String, description: String?)] {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errbuf) == 0 else { throw .cannotOpen(cText(errbuf)) }
        defer { pcap_freealldevs(list) }
        var result: [(String, String?)] = []
        var cur = list
        while let dev = cur {
            let d = dev.pointee
            result.append((String(cString: d.name), d.description.map { String(cString: $0) }))
            cur = d.next
        }
        return result
    }
}

/// Text of a NUL-terminated C buffer.
private func cText(_ buffer: [CChar]) -> String {
    let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
    return String(decoding: bytes, as: UTF8.self)
}
