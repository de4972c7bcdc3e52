import CPcap
import SonarCore
#if canImport(Glibc)
import Glibc
#endif

/// One packet as the capture hands it over: borrowed bytes (libpcap's buffer, or a plain pcap
/// file's mapping), valid only until the next `next()` call.
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

    /// The stdio buffer of a file opened here: freed after the stream is closed.
    private let fileBuffer: UnsafeMutableRawPointer?

    /// A plain pcap file's records read in place (`MappedRecords`) until libpcap takes over.
    /// Unchecked: only `next()`, `setFilter` and `fileOffset` touch it, and none of them calls
    /// anything that could reach it again while it is being accessed.
    @exclusivity(unchecked) private var mapped: MappedRecords?

    private init(handle: OpaquePointer, name: String, isLive: Bool, fileBuffer: UnsafeMutableRawPointer? = nil) {
        self.handle = handle
        self.name = name
        self.isLive = isLive
        self.fileBuffer = fileBuffer
        self.linkType = pcap_datalink(handle)
    }

    deinit {
        pcap_close(handle) // closes the stream of a file opened here
        fileBuffer?.deallocate()
        mapped?.unmap()
    }

    /// Opens a pcap or pcapng file with microsecond timestamps.
    ///
    /// `inPlace`: a plain pcap file (`MappedRecords`) is read from a mapping of the file instead
    /// of through libpcap's reads; the benchmark's libpcap floor passes false.
    public static func openFile(_ path: String, inPlace: Bool = true) throws(CaptureError) -> PcapSource {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        let precision = UInt32(PCAP_TSTAMP_PRECISION_MICRO)
        // The file through a stdio stream of our own with a 1 MiB buffer: libpcap reads each
        // record with `fread`, and the default 4 KiB buffer made a read(2) every 4 KiB (73 820
        // for the 300 MB benchmark corpus, about 3 % of a run). Standard input ("-"), and any
        // file fopen refuses, go through libpcap's own opening (and its error message).
        if path != "-", let file = fopen(path, "rb") {
            // glibc ignores the size when it is to allocate the buffer itself: give it one.
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: PcapSource.fileBufferBytes, alignment: 16)
            _ = setvbuf(file, buffer.assumingMemoryBound(to: CChar.self), _IOFBF, PcapSource.fileBufferBytes)
            // The header as the file holds it, read before libpcap reads anything.
            var header = (UInt64(0), UInt64(0), UInt64(0))
            let headerBytes = withUnsafeMutableBytes(of: &header) { pread(fileno(file), $0.baseAddress, 24, 0) }
            guard let h = pcap_fopen_offline_with_tstamp_precision(file, precision, &errbuf) else {
                fclose(file)
                buffer.deallocate()
                throw .cannotOpen("\(path): \(cText(errbuf))")
            }
            let source = PcapSource(handle: h, name: path, isLive: false, fileBuffer: buffer)
            if inPlace, headerBytes == 24 {
                source.mapped = withUnsafeBytes(of: &header) {
                    MappedRecords.map(fd: fileno(file), header: $0, snapshot: pcap_snapshot(h))
                }
            }
            return source
        }
        guard let h = pcap_open_offline_with_tstamp_precision(path, precision, &errbuf) else {
            throw .cannotOpen("\(path): \(cText(errbuf))")
        }
        return PcapSource(handle: h, name: path, isLive: false)
    }

    /// The stdio buffer of a capture file: the unit of read(2) on it.
    static let fileBufferBytes = 1 << 20

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

    /// Whether the next record will be read in place (`MappedRecords`) rather than by libpcap.
    public var readsInPlace: Bool { mapped != nil }

    /// libpcap reads the file on from the next record not yet read in place. When the file has
    /// been cut short of that record since it was opened, there is nothing for libpcap to read
    /// there: the message that says so (libpcap is left at the file's end).
    @discardableResult
    private func handBack() -> String? {
        guard let m = mapped else { return nil }
        mapped = nil
        m.unmap()
        let size = m.fileSize()
        guard let file = pcap_file(handle) else { return nil }
        if size >= 0, size < m.offset {
            _ = fseeko(file, 0, SEEK_END)
            return "\(name): the file was cut to \(size) bytes while it was being read, \(m.offset) bytes in"
        }
        _ = fseeko(file, off_t(m.offset), SEEK_SET)
        return nil
    }

    /// Compiles and installs a BPF filter; libpcap's own message on failure.
    public func setFilter(_ expression: String) throws(CaptureError) {
        handBack() // libpcap applies the filter as it reads
        var program = bpf_program()
        if pcap_compile(handle, &program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            throw .badFilter("invalid BPF filter '\(expression)': \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }
        if pcap_setfilter(handle, &program) != 0 {
            throw .badFilter("cannot apply BPF filter: \(String(cString: pcap_geterr(handle)))")
        }
    }

    /// The bytes of the packet after the next one, when the file is read in place and that
    /// record is a plain one; nil otherwise. A look ahead for hints (the flow table fetching a
    /// coming packet's flow early), called once before each packet is processed: the bytes are
    /// valid until the next read, which may hand the file back to libpcap.
    @inline(__always)
    public func upcoming() -> UnsafeRawBufferPointer? {
        mapped?.upcoming()
    }

    /// Reads the next packet. The returned bytes are libpcap's buffer or, for a plain pcap file,
    /// the file's mapping: no copy is made.
    public func next() -> CaptureResult {
        if mapped != nil {
            if let packet = mapped?.next() { return .packet(packet) }
            if let cut = handBack() { return .error(cut) }
        }
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

    /// Live capture in non-blocking mode: waits until a packet may be ready, the timeout passes,
    /// or a signal arrives (poll on libpcap's selectable descriptor). False when nothing arrived.
    @discardableResult
    public func waitForPackets(timeoutMilliseconds: Int32) -> Bool {
        let fd = pcap_get_selectable_fd(handle)
        guard fd >= 0 else { return false }
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, timeoutMilliseconds) > 0
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

extension PcapSource {
    /// How far into its file a replay has read (the mapped reader's offset, or libpcap's stdio
    /// position); nil when live.
    public var fileOffset: Int64? {
        if let m = mapped { return Int64(m.offset) }
        guard !isLive, let file = pcap_file(handle) else { return nil }
        let offset = ftello(file)
        return offset >= 0 ? Int64(offset) : nil
    }

    /// The size of the file being replayed; nil when live or unknown.
    public var fileSize: Int64? {
        guard !isLive else { return nil }
        var s = stat()
        return stat(name, &s) == 0 ? Int64(s.st_size) : nil
    }
}

/// One interface as `--list-interfaces` shows it.
public struct InterfaceInfo: Sendable, Equatable {
    public var name: String
    public var description: String?
    public var addresses: [String]
    public var isUp: Bool
    public var isRunning: Bool
    public var isLoopback: Bool
}

extension PcapSource {
    /// Every interface libpcap can open, with its flags and addresses, in libpcap's order.
    public static func interfaceDetails() throws(CaptureError) -> [InterfaceInfo] {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE) + 1)
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errbuf) == 0 else {
            throw .cannotOpen(String(decoding: errbuf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        defer { pcap_freealldevs(list) }
        var result: [InterfaceInfo] = []
        var cur = list
        while let dev = cur {
            let d = dev.pointee
            var addresses: [String] = []
            var a = d.addresses
            while let addr = a {
                if let sa = addr.pointee.addr, let text = addressText(sa) { addresses.append(text) }
                a = addr.pointee.next
            }
            result.append(InterfaceInfo(name: String(cString: d.name), description: d.description.map { String(cString: $0) },
                                        addresses: addresses, isUp: d.flags & UInt32(PCAP_IF_UP) != 0,
                                        isRunning: d.flags & UInt32(PCAP_IF_RUNNING) != 0,
                                        isLoopback: d.flags & UInt32(PCAP_IF_LOOPBACK) != 0))
            cur = d.next
        }
        return result
    }

    private static func addressText(_ sa: UnsafeMutablePointer<sockaddr>) -> String? {
        var buffer = [CChar](repeating: 0, count: 64)
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p -> String? in
                var a = p.pointee.sin_addr
                guard inet_ntop(AF_INET, &a, &buffer, 64) != nil else { return nil }
                return String(cString: buffer)
            }
        case AF_INET6:
            return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p -> String? in
                var a = p.pointee.sin6_addr
                guard inet_ntop(AF_INET6, &a, &buffer, 64) != nil else { return nil }
                return String(cString: buffer)
            }
        default:
            return nil
        }
    }
}

/// Writes packets to a pcap file through libpcap (which maps the link type to the file's).
/// Used by `--pcap-alerts` to keep the packets of flows that raised alerts.
public final class PcapWriter {
    private let dead: OpaquePointer
    private let dumper: OpaquePointer
    public let path: String

    /// Creates (or truncates) `path` for packets of `linkType` (a DLT value as `pcap_datalink` gives);
    /// with `append`, adds to the pcap file already there (libpcap checks it has the same link type).
    public init(path: String, linkType: Int32, snaplen: Int32 = 262_144, append: Bool = false) throws(CaptureError) {
        guard let dead = pcap_open_dead_with_tstamp_precision(linkType, snaplen, UInt32(PCAP_TSTAMP_PRECISION_MICRO)) else {
            throw .cannotOpen("\(path): libpcap cannot describe link type \(linkType)")
        }
        guard let dumper = append ? pcap_dump_open_append(dead, path) : pcap_dump_open(dead, path) else {
            let message = String(cString: pcap_geterr(dead))
            pcap_close(dead)
            throw .cannotOpen("\(path): \(message)")
        }
        self.dead = dead
        self.dumper = dumper
        self.path = path
    }

    deinit {
        pcap_dump_close(dumper)
        pcap_close(dead)
    }

    /// One packet: `bytes` as captured, `wireLength` as on the wire.
    public func write(timestamp: Timestamp, bytes: UnsafeRawBufferPointer, wireLength: Int) {
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(timestamp.microseconds / 1_000_000)
        header.ts.tv_usec = Int(timestamp.microseconds % 1_000_000)
        header.caplen = UInt32(clamping: bytes.count)
        header.len = UInt32(clamping: wireLength)
        guard let base = bytes.baseAddress else { return }
        pcap_dump(UnsafeMutableRawPointer(dumper).assumingMemoryBound(to: UInt8.self), &header,
                  base.assumingMemoryBound(to: UInt8.self))
    }

    public func flush() { pcap_dump_flush(dumper) }
}
