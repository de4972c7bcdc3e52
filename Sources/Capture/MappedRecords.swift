import CMappedFile
import CHints
import SonarCore
#if canImport(Glibc)
import Glibc
#endif

/// The records of a classic pcap file read in place from a read-only mapping of the file.
///
/// libpcap reads a capture file with `fread`: the kernel copies each page into the stdio buffer,
/// then stdio copies each record into libpcap's packet buffer, about 500 instructions and two
/// copies a packet (docs/performance.md, "Twenty-first round"). Here a packet is a view of the
/// mapping itself. Only the plain case is read here: a little-endian file of version 2.4 (micro-
/// or nanosecond), each record whole and no longer than the file's snapshot length. At the first
/// record that is anything else, and at the end of the mapping, `PcapSource` hands the file back
/// to libpcap at that record's offset, so libpcap still decides every damaged, odd or grown file
/// and words every error.
///
/// A file cut short while it is mapped raises SIGBUS at the first page it no longer has, and
/// reads as zeros in the rest of the page its new end falls in. The guard (`CMappedFile`) turns
/// the fault into zeros and a flag, checked after each record's header is read: the first record
/// whose header lies in a lost page is not handed out, and `PcapSource` hands the file back there
/// (libpcap reads on when that record is still in the file; when it is not, the reader says the
/// file was cut). The records of the page the cut falls in are the file's bytes up to the cut and
/// zeros after (zero-length records, mostly), and bytes lost after their record was handed out
/// read as zeros: as with libpcap, whose stdio buffer holds up to 1 MiB the file may no longer
/// have, nothing past a cut is the file's, but nothing from elsewhere is handed out either. A
/// probe a page past each record kept even those zeros out, and cost 6 % of a run in waits on
/// memory. Pages given back (below) are read again from the page cache if touched, so a packet
/// handed out before stays readable.
struct MappedRecords {
    let base: UnsafeRawPointer
    /// Bytes mapped (the file's size when it was opened).
    let count: Int
    /// The file's descriptor (its stream's, closed with it): the file's size when libpcap takes over.
    let fd: Int32
    /// The guard's slot for this mapping.
    let slot: Int32
    /// The longest record read here: the file's snapshot length, at most 262 144 (libpcap's bound).
    let limit: UInt32
    /// The file's timestamps are nanoseconds: divided by 1 000, as libpcap does for a
    /// microsecond reader.
    let nanoseconds: Bool
    /// The system's page size: pages are given back whole.
    let pageSize: Int
    /// The offset of the next record.
    private(set) var offset = 24
    /// Pages before this offset have been given back (`MADV_DONTNEED`), so a replay does not
    /// hold the whole file in its resident memory.
    private var released = 0

    /// Gives back the pages already read every 2 MiB.
    static let releaseStep = 2 << 20

    /// The mapping of `fd` when its first 24 bytes (`header`) are a plain pcap header; nil
    /// otherwise (libpcap then reads the file as before).
    static func map(fd: Int32, header: UnsafeRawBufferPointer, snapshot: Int32) -> MappedRecords? {
        guard header.count >= 24, snapshot > 0 else { return nil }
        let magic = UInt32(littleEndian: header.loadUnaligned(as: UInt32.self))
        let major = UInt16(littleEndian: header.loadUnaligned(fromByteOffset: 4, as: UInt16.self))
        let minor = UInt16(littleEndian: header.loadUnaligned(fromByteOffset: 6, as: UInt16.self))
        guard magic == 0xA1B2_C3D4 || magic == 0xA1B2_3C4D, major == 2, minor == 4 else { return nil }
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, st.st_size > 24,
              st.st_size <= off_t(Int.max) else { return nil }
        let size = Int(st.st_size)
        guard let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), address != MAP_FAILED else { return nil }
        let slot = sonar_map_watch(address, size)
        guard slot >= 0 else {
            _ = munmap(address, size)
            return nil
        }
        _ = madvise(address, size, MADV_SEQUENTIAL)
        return MappedRecords(base: UnsafeRawPointer(address), count: size, fd: fd, slot: slot,
                             limit: UInt32(min(Int(snapshot), 262_144)), nanoseconds: magic == 0xA1B2_3C4D,
                             pageSize: max(Int(sysconf(Int32(_SC_PAGESIZE))), 4096))
    }

    /// The next record, or nil when libpcap is to read on from `offset` (the end of the mapping,
    /// a record that is not plain, or the file cut short under the mapping).
    @inline(__always)
    mutating func next() -> CapturedPacket? {
        let at = offset
        guard count &- at >= 16 else { return nil }
        let p = base + at
        // The whole header is read before the guard's flag is looked at: a page lost under any
        // of its bytes has faulted by then.
        let seconds = UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))
        let fraction = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
        let caplen = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let wire = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
        guard sonar_map_faulted(slot) == 0, caplen <= limit, count &- at &- 16 >= Int(caplen) else { return nil }
        let end = at &+ 16 &+ Int(caplen)
        // libpcap's record header holds 32-bit signed seconds and fraction.
        var microseconds = Int64(Int32(bitPattern: fraction))
        if nanoseconds { microseconds /= 1000 }
        offset = end
        // The next record's header and its packet's first bytes (link, IP and TCP headers), asked
        // for a whole packet's work ahead of their use.
        if count &- end >= 128 {
            sonar_prefetch(base + end)
            sonar_prefetch(base + end + 64)
        }
        if at &- released >= MappedRecords.releaseStep { release(upTo: at) }
        return CapturedPacket(timestamp: Timestamp(seconds: Int64(Int32(bitPattern: seconds)), microseconds: microseconds),
                              bytes: UnsafeRawBufferPointer(start: p + 16, count: Int(caplen)),
                              wireLength: Int(wire))
    }

    /// The offset of the record `upcoming()` hands out next: kept a step ahead, so that its
    /// header was asked for a packet's work before it is read.
    private var lookahead = 0

    /// The packet bytes of the record after the next one, without reading it: nil when that
    /// record is not a plain one inside the mapping. For hints only (which flow a coming packet
    /// belongs to), called once before each packet is processed. A page lost under the bytes
    /// reads as zeros and raises the guard's flag, which the next `next()` then sees.
    @inline(__always)
    mutating func upcoming() -> UnsafeRawBufferPointer? {
        if lookahead <= offset {
            // Not in step (the first call): the record after the next one.
            guard let second = recordEnd(offset) else { return nil }
            lookahead = second
        }
        let at = lookahead
        guard let end = recordEnd(at) else { return nil }
        lookahead = end
        if count &- end >= 128 {
            sonar_prefetch(base + end)
            sonar_prefetch(base + end + 64)
        }
        return UnsafeRawBufferPointer(start: base + at + 16, count: end &- at &- 16)
    }

    /// Where the record at `at` ends, when it is a plain one inside the mapping.
    @inline(__always)
    private func recordEnd(_ at: Int) -> Int? {
        guard count &- at >= 16 else { return nil }
        let caplen = UInt32(littleEndian: (base + at).loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        guard caplen <= limit, count &- at &- 16 >= Int(caplen) else { return nil }
        return at &+ 16 &+ Int(caplen)
    }

    /// The file's size now (-1 when it cannot be asked).
    func fileSize() -> Int {
        var st = stat()
        return fstat(fd, &st) == 0 ? Int(st.st_size) : -1
    }

    /// Drops the mapping's pages wholly before `end` from this process (the page cache keeps them).
    private mutating func release(upTo end: Int) {
        let upTo = end / pageSize * pageSize
        guard upTo > released else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + released), upTo - released, MADV_DONTNEED)
        released = upTo
    }

    func unmap() {
        sonar_map_unwatch(slot)
        _ = munmap(UnsafeMutableRawPointer(mutating: base), count)
    }
}
