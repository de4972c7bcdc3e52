import Foundation
import SonarCapture
import SonarCore
import Testing

/// Plain pcap files are read in place from a mapping (`MappedRecords`), everything else by
/// libpcap. The two must hand out the same packets and end the same way, whatever the file holds;
/// a file cut short while it is read must not crash the reader, which hands out only the file's
/// bytes and, past the cut, the zeros the mapping shows, and a file that grows is read to its end.
@Suite struct MappedCaptureTests {
    /// One packet as a reader gave it, or how reading ended.
    enum Read: Equatable {
        case packet(microseconds: Int64, wire: Int, bytes: [UInt8])
        case end
        case error(String)
    }

    static func read(_ source: PcapSource, upTo limit: Int = .max) -> [Read] {
        var out: [Read] = []
        while out.count < limit {
            switch source.next() {
            case .packet(let p):
                out.append(.packet(microseconds: p.timestamp.microseconds, wire: p.wireLength, bytes: Array(p.bytes)))
            case .timeout: continue
            case .end: out.append(.end); return out
            case .error(let m): out.append(.error(m)); return out
            }
        }
        return out
    }

    static func both(_ path: String) throws -> (inPlace: [Read], libpcap: [Read], mapped: Bool) {
        let mapped = try PcapSource.openFile(path)
        let wasMapped = mapped.readsInPlace
        let inPlace = read(mapped)
        let libpcap = read(try PcapSource.openFile(path, inPlace: false))
        return (inPlace, libpcap, wasMapped)
    }

    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func be32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    static func header(magic: UInt32 = 0xA1B2_C3D4, minor: UInt16 = 4, snaplen: UInt32 = 65535) -> [UInt8] {
        le32(magic) + le16(2) + le16(minor) + le32(0) + le32(0) + le32(snaplen) + le32(1)
    }

    static func record(seconds: UInt32 = 1_700_000_000, fraction: UInt32 = 0, _ data: [UInt8], wire: UInt32? = nil) -> [UInt8] {
        le32(seconds) + le32(fraction) + le32(UInt32(data.count)) + le32(wire ?? UInt32(data.count)) + data
    }

    /// Bytes that differ from packet to packet, so a packet handed out of the wrong place shows.
    static func payload(_ n: Int, _ seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed &* 7 &+ 1) } }

    @Test func everyFixtureReadsTheSameInPlaceAsThroughLibpcap() throws {
        var files = Repo.originals() + Repo.crafted()
        for original in Repo.originals() where original.hasSuffix(".pcap") {
            files += Repo.variants(of: original)
        }
        var mappedFiles = 0, packets = 0
        for name in files {
            let path = Repo.fixture(name)
            let r = try Self.both(path)
            #expect(r.inPlace == r.libpcap, "\(name)")
            // Every classic pcap the fixtures hold is a plain one (pcapng never is).
            let classic = (try? Data(contentsOf: URL(fileURLWithPath: path)).prefix(4)) == Data(Self.le32(0xA1B2_C3D4))
            #expect(r.mapped == classic, "\(name)")
            if r.mapped { mappedFiles += 1; packets += r.inPlace.count - 1 }
            #expect(r.inPlace.last == .end, "\(name)")
        }
        #expect(mappedFiles >= 50)
        #expect(packets > 10_000)
    }

    /// Records libpcap reads its own way, and files that are not plain, end the same way: by
    /// name, the file's bytes and whether it is read in place at first.
    static let oddFiles: [String: ([UInt8], Bool)] = [
        // nanoseconds (divided to microseconds), seconds and fractions with the top bit set
        "ns.pcap": (header(magic: 0xA1B2_3C4D)
            + record(fraction: 999_999_999, payload(60, 1)) + record(seconds: 0x8000_0000, fraction: 0xFFFF_FFFF, payload(60, 2))
            + record(seconds: 0xFFFF_FFFF, fraction: 1_000, payload(61, 3)), true),
        "us-edges.pcap": (header() + record(seconds: 0x8000_0000, fraction: 0xFFFF_FFFF, payload(60, 1))
            + record(seconds: 0, fraction: 1_000_000, payload(0, 2)) + record(payload(60, 3), wire: 9_000), true),
        // longer than the snapshot length: libpcap keeps the first 64 bytes and goes on
        "over-snaplen.pcap": (header(snaplen: 64) + record(payload(60, 1)) + record(payload(100, 2)) + record(payload(64, 3)), true),
        // the largest record libpcap reads, then one byte more
        "max-caplen.pcap": (header(snaplen: 262_144) + record(payload(262_144, 1)) + record(payload(20, 2)), true),
        "over-max.pcap": (header(snaplen: 0) + record(payload(60, 1)) + record(payload(262_145, 2)) + record(payload(60, 3)), true),
        // cut inside a record's header, inside its data
        "cut-header.pcap": (header() + record(payload(60, 1)) + Array(record(payload(60, 2)).prefix(9)), true),
        "cut-data.pcap": (header() + record(payload(60, 1)) + Array(record(payload(600, 2)).prefix(300)), true),
        "header-only.pcap": (header() + [0], true),
        "no-records.pcap": (header(), false),
        // not plain: libpcap reads them from the start
        "version-2.3.pcap": (header(minor: 3) + record(payload(60, 1)) + record(payload(50, 2), wire: 40), false),
        "big-endian.pcap": (be32(0xA1B2_C3D4) + [0, 2, 0, 4] + be32(0) + be32(0) + be32(65535) + be32(1)
            + be32(1) + be32(2) + be32(60) + be32(60) + payload(60, 1), false),
        "kuznetzov.pcap": (header(magic: 0xA1B2_CD34) + record(payload(60, 1)) + [UInt8](repeating: 0, count: 8), false),
    ]

    @Test(arguments: oddFiles.keys.sorted())
    func oddFilesEndAsLibpcapEndsThem(_ name: String) throws {
        let (bytes, mapped) = try #require(Self.oddFiles[name])
        let path = try temporaryFile(name, bytes)
        let r = try Self.both(path)
        #expect(r.inPlace == r.libpcap, "\(name)")
        #expect(r.mapped == mapped, "\(name)")
    }

    /// A file of `n` records of `size` bytes each (all different).
    static func records(_ n: Int, size: Int) -> [UInt8] {
        var bytes = header()
        for i in 0..<n { bytes += record(fraction: UInt32(i), payload(size, i)) }
        return bytes
    }

    /// The file cut short while it is read, at several places ahead of and behind the reader:
    /// no crash, and exactly what the mapping shows. Records wholly before the cut are the file's;
    /// the page the cut falls in reads as the file's bytes up to the cut and zeros after, so its
    /// records are handed out as they read (zero-length ones, mostly); the first record whose
    /// header lies in a lost page faults, and libpcap takes the file over there: it reads on when
    /// that record is still in the file (and says where it is cut), and when the reader is past
    /// the cut, the reader says the file was cut.
    @Test(arguments: [
        // (records read before the cut, where the cut falls: offset in the file)
        (10, 24 + 1016 * 40 + 500),  // inside a record pages ahead
        (10, 24 + 1016 * 11 + 7),    // inside the header of the record after next
        (10, 24 + 1016 * 10 + 100),  // inside the very next record
        (10, 24 + 1016 * 10),        // at the next record's start
        (190, 24 + 1016 * 198 + 50), // inside a record in the file's last page
        (30, 24 + 1016 * 3),         // behind the reader
        (30, 0),                     // emptied
    ])
    func aFileCutShortWhileReadShowsWhatTheMappingShows(_ before: Int, _ cut: Int) throws {
        let bytes = Self.records(200, size: 1000)
        let path = try temporaryFile("cut-\(before)-\(cut).pcap", bytes)
        let whole = Self.read(try PcapSource.openFile(path, inPlace: false))
        #expect(whole.count == 201)
        let source = try PcapSource.openFile(path)
        #expect(source.readsInPlace)
        var got = Self.read(source, upTo: before)
        #expect(got == Array(whole.prefix(before)))
        #expect(truncate(path, off_t(cut)) == 0)
        got += Self.read(source)

        // What the mapping shows after the cut: the file's bytes up to the cut, zeros to the end
        // of that page, no pages after it.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let readable = (cut + page - 1) / page * page
        var view = bytes
        for i in cut..<view.count { view[i] = 0 }
        func u32(_ at: Int) -> UInt32 { view[at..<at + 4].reversed().reduce(0) { $0 << 8 | UInt32($1) } }
        var expected = Array(whole.prefix(before))
        var offset = 24 + 1016 * before
        while offset + 16 <= readable, offset + 16 <= view.count {
            let caplen = Int(u32(offset + 8))
            guard offset + 16 + caplen <= view.count else { break }
            expected.append(.packet(microseconds: Int64(u32(offset)) * 1_000_000 + Int64(u32(offset + 4)),
                                    wire: Int(u32(offset + 12)), bytes: Array(view[offset + 16..<offset + 16 + caplen])))
            offset += 16 + caplen
        }
        if offset > cut {
            expected.append(.error("\(path): the file was cut to \(cut) bytes while it was being read, \(offset) bytes in"))
        } else {
            // libpcap reads the cut file on from that record: what it reads of the cut file.
            let cutFile = Self.read(try PcapSource.openFile(path, inPlace: false))
            expected += cutFile.dropFirst((offset - 24) / 1016)
        }
        #expect(got == expected, "cut at \(cut): \(got.count) reads, \(expected.count) expected; last \(String(describing: got.last))")
        // Each case ends as it should: an error whenever the cut falls inside a record or behind the reader.
        if cut % 1016 != 24 || cut < 24 + 1016 * before {
            guard case .error? = got.last else {
                Issue.record("cut at \(cut): \(String(describing: got.last))")
                return
            }
        }
    }

    /// The look ahead for the flow hint (`upcoming`, called once before each packet as the replay
    /// does) is the packet after the next, on every classic fixture and on a file whose odd
    /// record (longer than the snapshot length) hands it to libpcap: nothing from there on.
    @Test func theLookAheadIsThePacketAfterTheNext() throws {
        var files = Repo.originals().filter { $0.hasSuffix(".pcap") } + Repo.crafted()
        for original in Repo.originals() where original.hasSuffix(".pcap") { files += Repo.variants(of: original) }
        var odd = Self.records(30, size: 300)
        odd += Self.record(Self.payload(70_000, 99))
        odd += Self.records(5, size: 300).dropFirst(24)
        var paths = files.map { Repo.fixture($0) }.filter { $0.hasSuffix(".pcap") }
        paths.append(try temporaryFile("odd-record.pcap", odd))
        var compared = 0
        for path in paths {
            let whole = Self.read(try PcapSource.openFile(path, inPlace: false)).compactMap { r -> [UInt8]? in
                if case .packet(_, _, let bytes) = r { return bytes } else { return nil }
            }
            let source = try PcapSource.openFile(path)
            var k = 0
            reading: while true {
                switch source.next() {
                case .packet:
                    let ahead = source.upcoming().map { Array($0) }
                    if path.hasSuffix("odd-record.pcap") && k >= 28 {
                        // The odd record is the 31st: from the 29th on, libpcap's turn is in sight.
                        #expect(ahead == nil, "\(path): packet \(k)")
                    } else {
                        #expect(ahead == (k + 2 < whole.count ? whole[k + 2] : nil), "\(path): packet \(k)")
                        compared += 1
                    }
                    k += 1
                case .timeout: continue
                case .end, .error: break reading
                }
            }
            #expect(k == whole.count, "\(path)")
        }
        #expect(paths.count >= 50)
        #expect(compared > 10_000)
    }

    /// Reading ahead while the file is cut short under the reader: no crash, the packets before
    /// the cut as the file had them, no more than the zeros of the cut's page after them, and an
    /// end or an error message.
    @Test(arguments: [24 + 1016 * 11 + 7, 24 + 1016 * 12 + 7, 24 + 1016 * 40 + 500, 24 + 1016 * 10])
    func readingAheadThroughACut(_ cut: Int) throws {
        let bytes = Self.records(200, size: 1000)
        let path = try temporaryFile("cut-ahead-\(cut).pcap", bytes)
        let whole = Self.read(try PcapSource.openFile(path, inPlace: false))
        let source = try PcapSource.openFile(path)
        var got: [Read] = []
        var last: Read?
        reading: while true {
            switch source.next() {
            case .packet(let p):
                got.append(.packet(microseconds: p.timestamp.microseconds, wire: p.wireLength, bytes: Array(p.bytes)))
                if let ahead = source.upcoming() { _ = ahead.reduce(0, &+) }
                if got.count == 10 { #expect(truncate(path, off_t(cut)) == 0) }
            case .timeout: continue
            case .end: last = .end; break reading
            case .error(let m): last = .error(m); break reading
            }
        }
        let intact = (cut - 24) / 1016 // records wholly before the cut
        // After the cut, the rest of its page reads as zeros: zero-length records, at most a page's.
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        #expect(got.count >= min(intact, 10) && got.count <= intact + 1 + page / 16)
        #expect(Array(got.prefix(intact)) == Array(whole.prefix(min(intact, got.count))))
        #expect(last != nil)
        if cut % 1016 != 24, case .end? = last { Issue.record("cut at \(cut) inside a record ended without an error") }
    }

    /// Records appended after the file was opened (a capture still being written) are read
    /// too: libpcap reads on from where the mapping ends.
    @Test func aFileThatGrowsIsReadToItsNewEnd() throws {
        let first = Self.records(50, size: 700)
        let path = try temporaryFile("grows.pcap", first)
        let source = try PcapSource.openFile(path)
        #expect(source.readsInPlace)
        var got = Self.read(source, upTo: 20)
        var more: [UInt8] = []
        for i in 50..<80 { more += Self.record(fraction: UInt32(i), Self.payload(700, i)) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(more))
        try handle.close()
        got += Self.read(source)
        let expected = Self.read(try PcapSource.openFile(path, inPlace: false))
        #expect(expected.count == 81)
        #expect(got == expected)
    }
}
