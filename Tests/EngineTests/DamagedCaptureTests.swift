import Foundation
import Testing

/// Issue 8 part 5: damaged captures built byte by byte (pcap and pcapng headers and blocks with
/// wrong lengths, garbage, cuts) give one clear line naming the file and never a crash. A file
/// libpcap refuses at open exits 2 with nothing on stdout; damage found while reading exits 1
/// after the events before it and the final stats. (The `capture` fuzz target runs arbitrary
/// files through the same path; docs/fuzzing.md.)
@Suite struct DamagedCaptureTests {
    static func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
    static func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }

    /// A pcapng block: type, total length, body, total length again.
    static func block(_ type: UInt32, _ body: [UInt8]) -> [UInt8] {
        let n = UInt32(12 + body.count)
        return le32(type) + le32(n) + body + le32(n)
    }

    static let packet = [UInt8](repeating: 0, count: 60)
    static let shb = block(0x0A0D_0D0A, le32(0x1A2B_3C4D) + le16(1) + le16(0) + [UInt8](repeating: 0xFF, count: 8))
    static let idb = block(1, le16(1) + le16(0) + le32(262_144))
    static let epb = block(6, le32(0) + le32(0) + le32(0) + le32(60) + le32(60) + packet)

    static func patched(_ bytes: [UInt8], at offset: Int, _ value: UInt32) -> [UInt8] {
        var b = bytes
        let v = le32(value)
        for i in 0..<4 { b[offset + i] = v[i] }
        return b
    }

    static func pcapHeader(version: (UInt16, UInt16) = (2, 4), snaplen: UInt32 = 65535, linkType: UInt32 = 1) -> [UInt8] {
        le32(0xA1B2_C3D4) + le16(version.0) + le16(version.1) + le32(0) + le32(0) + le32(snaplen) + le32(linkType)
    }

    static func record(caplen: UInt32, len: UInt32) -> [UInt8] { le32(0) + le32(0) + le32(caplen) + le32(len) }

    /// (name, file bytes, exit status, a fragment of libpcap's message)
    static let cases: [(String, [UInt8], Int32, String)] = {
        var garbage: [UInt8] = []
        var x: UInt32 = 12345
        for _ in 0..<4096 { x = x &* 1_103_515_245 &+ 12345; garbage.append(UInt8(truncatingIfNeeded: x >> 16)) }
        return [
            ("garbage.pcap", garbage, 2, "unknown file format"),
            ("magic-only.pcap", le32(0xA1B2_C3D4), 2, "truncated dump file"),
            ("bad-version.pcap", pcapHeader(version: (0xFFFF, 0xFFFF), snaplen: 0xFFFF_FFFF, linkType: 0xDEAD)
                + record(caplen: 60, len: 60) + packet, 2, "unsupported pcap savefile version"),
            ("huge-caplen.pcap", pcapHeader() + record(caplen: 0xFFFF_FFF0, len: 60) + packet, 1, "invalid packet capture length"),
            ("caplen-past-end.pcap", pcapHeader(snaplen: 64) + record(caplen: 200_000, len: 200_000) + [UInt8](repeating: 0, count: 300),
             1, "truncated dump file"),
            ("shb-length.pcapng", patched(shb, at: 4, UInt32(shb.count + 1)) + idb + epb, 2, "pcapng"),
            ("block-too-large.pcapng", shb + idb + patched(epb, at: 4, 0x7FFF_FFF0), 1, "block size"),
            ("block-too-small.pcapng", shb + idb + patched(epb, at: 4, 12), 1, "don't match"),
            ("trailer-mismatch.pcapng", shb + idb + patched(epb, at: epb.count - 4, 999), 1, "don't match"),
            ("caplen-past-block.pcapng", shb + idb + patched(epb, at: 20, 5000), 1, "too short"),
            ("unknown-interface.pcapng", shb + idb + patched(epb, at: 8, 7), 1, "Interface Description Block"),
            ("cut-in-block.pcapng", Array((shb + idb + epb).dropLast(20)), 1, "truncated pcapng dump file"),
        ]
    }()

    @Test(arguments: 0..<cases.count)
    func damagedCaptureGivesOneClearLine(_ index: Int) throws {
        let (name, bytes, status, fragment) = Self.cases[index]
        let dir = try scratchSubdirectory("damaged")
        let path = dir.appendingPathComponent(name).path
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let r = try runBinary(["-r", path, "--no-detect"])
        #expect(r.status == status, "\(name): \(r.stderr)")
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(name): \(r.stderr)")
        #expect(r.stderr.contains(name))
        #expect(r.stderr.contains(fragment), "\(name): \(r.stderr)")
        if status == 2 {
            #expect(r.stdout.isEmpty)
        } else {
            // Read up to the damage: the stats event still closes the output.
            let out = r.stdout.split(separator: "\n")
            #expect(out.last?.contains(#""event_type":"stats""#) == true)
        }
    }
}
