import SonarCapture
import SonarCore
import SonarDecode
#if canImport(Glibc)
import Glibc
#endif

/// What `mcpsonar corpus` builds: a deterministic benchmark capture (issue 7).
public struct CorpusOptions: Sendable {
    /// Bytes of the file to write (approximately: every flow started is finished, so the file
    /// ends a little past this).
    public var size: Int
    public var seed: UInt64
    /// The MCP sessions to embed: pcap files whose TCP connections are replayed, re-addressed.
    public var fixtures: [String]
    /// Flows in progress at once (their packets interleave).
    public var concurrentFlows = 1000
    /// Share of the bytes that are MCP sessions, in thousandths.
    public var mcpPerMille = 330
    /// Connections opened at the start and left open, on top of the mix: a handshake and an
    /// unfinished HTTP request head each, so that many flows are in progress at once (the memory
    /// bound under a million concurrent flows). Their packets come first, in random order.
    public var openFlows = 0

    public init(size: Int, seed: UInt64, fixtures: [String]) {
        self.size = size
        self.seed = seed
        self.fixtures = fixtures
    }
}

/// What was written.
public struct CorpusReport: Sendable, Equatable {
    public var packets = 0
    /// Bytes of the file (pcap headers included).
    public var fileBytes = 0
    /// Copies made of each fixture, in `CorpusOptions.fixtures` order.
    public var copies: [Int] = []
    /// Frame bytes (link layer up) of each kind of traffic.
    public var mcpBytes = 0
    public var tlsBytes = 0
    public var httpBytes = 0
    /// Frame bytes of the connections left open (`openFlows`).
    public var openBytes = 0
    public var openFlows = 0
    public var tlsFlows = 0
    public var httpFlows = 0
    /// TCP connections in the file (MCP fixture copies count each of their connections).
    public var connections = 0
}

public enum CorpusError: Error, CustomStringConvertible {
    case fixture(String)
    case output(String)

    public var description: String {
        switch self {
        case .fixture(let s): return "fixture: \(s)"
        case .output(let s): return "output: \(s)"
        }
    }
}

/// Builds a mixed capture for the benchmark: a share of real MCP sessions taken from the
/// fixtures (their TCP connections re-addressed onto many client hosts and fresh ports, sequence
/// numbers shifted, segments cut to 1460 bytes), the rest bulk traffic a sensor must recognise and
/// skip: TLS connections (a real-looking ClientHello with SNI, then opaque records) on 443 and
/// HTTP/1.1 downloads of `application/octet-stream` bodies on 80. About `concurrentFlows` flows are
/// in progress at any time and their packets interleave. Valid Ethernet/IPv4/TCP (checksums,
/// handshakes, acknowledgements, FINs). The same options always give the same bytes.
public enum Corpus {
    static let mss = 1460
    static let t0: Int64 = 1_795_608_000_000_000 // 2026-11-25 12:00:00 UTC, packet time

    public static func generate(_ options: CorpusOptions, to path: String) throws(CorpusError) -> CorpusReport {
        let target = max(0, options.size)
        var templates: [FixtureTemplate] = []
        for (i, path) in options.fixtures.enumerated() {
            templates.append(try FixtureTemplate.load(path, index: i))
        }
        guard let writer = PcapFileWriter(path: path) else { throw .output("\(path): cannot create (\(String(cString: strerror(errno))))") }
        var rng = SplitMix64(seed: options.seed)
        let pool = RandomPool(rng: &rng, size: 1 << 20)
        var report = CorpusReport()
        report.copies = [Int](repeating: 0, count: templates.count)
        var active: [CorpusStream] = []
        active.reserveCapacity(options.concurrentFlows)
        var projectedMCP = 0, projectedTotal = 0
        var nextTemplate = 0, bulkCount = 0
        var clock = t0

        func start() -> CorpusStream {
            // MCP while its share of the bytes planned so far is below the target share.
            if options.mcpPerMille > 0 && !templates.isEmpty && projectedMCP * 1000 <= projectedTotal * options.mcpPerMille {
                let t = templates[nextTemplate]
                nextTemplate = (nextTemplate + 1) % templates.count
                let copy = report.copies[t.index]
                report.copies[t.index] += 1
                let number = report.copies.reduce(0, +)
                projectedMCP += t.frameBytes
                projectedTotal += t.frameBytes + 16 * t.packets.count
                report.connections += t.connections
                return MCPCopyStream(template: t, copy: copy, number: number, rng: &rng)
            }
            bulkCount += 1
            let tls = rng.below(2) == 0
            // Sizes spread log-uniformly from 16 KiB to 4 MiB (a sixteenth of a small corpus at most).
            let exponent = 14 + rng.below(8)
            let body = min((1 << exponent) + rng.below(1 << exponent), max(1 << 14, target / 16))
            let stream = BulkStream(tls: tls, number: bulkCount, body: body, rng: &rng)
            projectedTotal += stream.estimatedFileBytes
            report.connections += 1
            if tls { report.tlsFlows += 1 } else { report.httpFlows += 1 }
            return stream
        }

        var open: [OpenStream] = []
        open.reserveCapacity(max(0, options.openFlows))
        for n in 0..<max(0, options.openFlows) { open.append(OpenStream(number: n, rng: &rng)) }
        report.openFlows = open.count
        report.connections += open.count
        while !open.isEmpty {
            let i = rng.below(open.count)
            clock += 1 + Int64(rng.below(4))
            if open[i].emit(writer, time: clock, pool: pool, rng: &rng) { open.swapAt(i, open.count - 1); open.removeLast() }
        }
        while true {
            while active.count < options.concurrentFlows && projectedTotal < target {
                active.append(start())
            }
            if active.isEmpty { break }
            let i = rng.below(active.count)
            clock += 1 + Int64(rng.below(16))
            let done = active[i].emit(writer, time: clock, pool: pool, rng: &rng)
            if done { active.swapAt(i, active.count - 1); active.removeLast() }
        }
        guard writer.close() else { throw .output("\(path): write failed") }
        report.packets = writer.packets
        report.fileBytes = writer.fileBytes
        report.mcpBytes = writer.bytesByKind[0]
        report.tlsBytes = writer.bytesByKind[1]
        report.httpBytes = writer.bytesByKind[2]
        report.openBytes = writer.bytesByKind[3]
        return report
    }
}

// MARK: - randomness

/// SplitMix64: small, fast and the same everywhere.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// 0..<n (n > 0).
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
}

/// Random bytes that opaque payloads are cut from (1 MiB generated once).
final class RandomPool {
    let bytes: [UInt8]
    init(rng: inout SplitMix64, size: Int) {
        var b = [UInt8](repeating: 0, count: size)
        b.withUnsafeMutableBytes { raw in
            var i = 0
            while i + 8 <= size {
                raw.storeBytes(of: rng.next(), toByteOffset: i, as: UInt64.self)
                i += 8
            }
        }
        bytes = b
    }
}

// MARK: - writing

/// A pcap file (microsecond, Ethernet) written by hand through a large buffer, with valid IPv4
/// and TCP checksums.
final class PcapFileWriter {
    private let file: UnsafeMutablePointer<FILE>
    private var buffer: [UInt8] = []
    private var failed = false
    private var ipID: UInt16 = 0
    private(set) var packets = 0
    private(set) var fileBytes = 0
    /// Frame bytes by kind: 0 MCP, 1 TLS, 2 HTTP, 3 connections left open.
    private(set) var bytesByKind = [0, 0, 0, 0]

    init?(path: String) {
        guard let f = fopen(path, "wb") else { return nil }
        file = f
        buffer.reserveCapacity(1 << 22)
        // Global header: magic, version 2.4, thiszone 0, sigfigs 0, snaplen 262144, DLT_EN10MB.
        appendLE32(0xA1B2_C3D4)
        appendLE16(2); appendLE16(4)
        appendLE32(0); appendLE32(0)
        appendLE32(262_144); appendLE32(1)
    }

    private func appendLE32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    private func appendLE16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { buffer.append(contentsOf: $0) } }
    private func appendBE32(_ v: UInt32) { withUnsafeBytes(of: v.bigEndian) { buffer.append(contentsOf: $0) } }
    private func appendBE16(_ v: UInt16) { withUnsafeBytes(of: v.bigEndian) { buffer.append(contentsOf: $0) } }

    /// One Ethernet/IPv4/TCP frame. `mss` adds the MSS option (SYNs).
    func tcp(time: Int64, kind: Int, src: UInt32, sport: UInt16, dst: UInt32, dport: UInt16, seq: UInt32, ack: UInt32,
             flags: UInt8, window: UInt16, ttl: UInt8, mss: Bool = false, payload: UnsafeRawBufferPointer) {
        let tcpHeader = mss ? 24 : 20
        let ipLength = 20 + tcpHeader + payload.count
        let frame = 14 + ipLength
        appendLE32(UInt32(truncatingIfNeeded: time / 1_000_000))
        appendLE32(UInt32(truncatingIfNeeded: time % 1_000_000))
        appendLE32(UInt32(frame)); appendLE32(UInt32(frame))
        // Ethernet: locally administered MACs derived from the addresses.
        buffer.append(0x02); buffer.append(0x00); appendBE32(dst)
        buffer.append(0x02); buffer.append(0x00); appendBE32(src)
        appendBE16(0x0800)
        ipID &+= 1
        let ip = buffer.count
        buffer.append(0x45); buffer.append(0)
        appendBE16(UInt16(ipLength)); appendBE16(ipID)
        appendBE16(0x4000) // DF
        buffer.append(ttl); buffer.append(6)
        appendBE16(0)
        appendBE32(src); appendBE32(dst)
        let th = buffer.count
        appendBE16(sport); appendBE16(dport)
        appendBE32(seq); appendBE32(ack)
        buffer.append(UInt8(tcpHeader / 4) << 4); buffer.append(flags)
        appendBE16(window)
        appendBE16(0); appendBE16(0)
        if mss { buffer.append(2); buffer.append(4); appendBE16(UInt16(Corpus.mss)) }
        buffer.append(contentsOf: payload)
        let end = buffer.count
        buffer.withUnsafeMutableBytes { raw in
            let ipSum = checksum(UnsafeRawBufferPointer(rebasing: raw[ip..<(ip + 20)]), initial: 0)
            raw.storeBytes(of: ipSum, toByteOffset: ip + 10, as: UInt16.self)
            // Pseudo-header: addresses, protocol, TCP length (native order throughout, RFC 1071).
            var pseudo: UInt64 = 0
            pseudo &+= UInt64(raw.loadUnaligned(fromByteOffset: ip + 12, as: UInt32.self))
            pseudo &+= UInt64(raw.loadUnaligned(fromByteOffset: ip + 16, as: UInt32.self))
            let tail: (UInt8, UInt8, UInt8, UInt8) = (0, 6, UInt8((tcpHeader + payload.count) >> 8), UInt8((tcpHeader + payload.count) & 0xFF))
            pseudo &+= UInt64(withUnsafeBytes(of: tail) { $0.loadUnaligned(as: UInt32.self) })
            let tcpSum = checksum(UnsafeRawBufferPointer(rebasing: raw[th..<end]), initial: pseudo)
            raw.storeBytes(of: tcpSum, toByteOffset: th + 16, as: UInt16.self)
        }
        packets += 1
        fileBytes += 16 + frame
        bytesByKind[kind] += frame
        if buffer.count >= 1 << 22 - 70_000 { flushBuffer() }
    }

    private func flushBuffer() {
        if !buffer.isEmpty {
            let n = buffer.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            if n != buffer.count { failed = true }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes and closes; false when any write failed.
    func close() -> Bool {
        fileBytes += 24
        flushBuffer()
        return fclose(file) == 0 && !failed
    }
}

/// The Internet checksum (RFC 1071) of `bytes` plus `initial`, summed in native byte order and
/// returned ready to store in native order.
@inline(__always)
func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt64) -> UInt16 {
    var sum = initial
    var i = 0
    let n = bytes.count
    while i + 4 <= n {
        sum &+= UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self))
        i += 4
    }
    if i + 2 <= n {
        sum &+= UInt64(bytes.loadUnaligned(fromByteOffset: i, as: UInt16.self))
        i += 2
    }
    if i < n {
        // An odd last byte is the high byte of a zero-padded big-endian word.
        sum &+= UInt64(UInt16(bytes[i]).littleEndian)
    }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
    return ~UInt16(truncatingIfNeeded: sum)
}

// MARK: - streams

/// One flow (or one fixture copy) in progress: emits its next packet per call.
protocol CorpusStream: AnyObject {
    /// Writes the next packet; true when that was the last one.
    func emit(_ w: PcapFileWriter, time: Int64, pool: RandomPool, rng: inout SplitMix64) -> Bool
}

/// The TCP packets of one fixture file, ready to replay under new addresses.
struct FixtureTemplate {
    struct Packet {
        var src: Int  // endpoint index
        var dst: Int
        var seq: UInt32
        var ack: UInt32
        var flags: UInt8
        var window: UInt16
        var payloadStart: Int
        var payloadCount: Int
    }
    var index: Int
    var name: String
    /// Each endpoint of the fixture: whether it is a server (it received a SYN), and its port.
    var endpoints: [(server: Bool, port: UInt16)] = []
    var packets: [Packet] = []
    var payloads: [UInt8] = []
    /// Frame bytes of one copy.
    var frameBytes = 0
    var connections = 0

    static func load(_ path: String, index: Int) throws(CorpusError) -> FixtureTemplate {
        let source: PcapSource
        do { source = try PcapSource.openFile(path) } catch { throw .fixture("\(error)") }
        var decoder = PacketDecoder()
        var t = FixtureTemplate(index: index, name: path)
        var raw: [(Endpoint, Endpoint, TCPInfo, [UInt8])] = []
        reading: while true {
            switch source.next() {
            case .packet(let p):
                guard let d = decoder.decode(p.bytes, wireLength: p.wireLength, linkType: source.linkType, timestamp: p.timestamp),
                      d.transport == .tcp else { continue }
                raw.append((d.source, d.destination, d.tcp, Array(d.payload)))
            case .timeout: continue
            case .end: break reading
            case .error(let e): throw .fixture(e)
            }
        }
        // Servers: whoever received a SYN without ACK; for connections seen without one, the lower port.
        var servers = Set<Endpoint>()
        var keys = Set<[Endpoint]>()
        for (_, d, tcp, _) in raw where tcp.flags.contains(.syn) && !tcp.flags.contains(.ack) { servers.insert(d) }
        for (s, d, _, _) in raw {
            let pair = [s, d].sorted { ($0.port, $0.address.description) < ($1.port, $1.address.description) }
            if keys.insert(pair).inserted, !servers.contains(s), !servers.contains(d) {
                servers.insert(s.port < d.port ? s : d)
            }
        }
        t.connections = keys.count
        var endpointIndex: [Endpoint: Int] = [:]
        func slot(_ e: Endpoint) -> Int {
            if let i = endpointIndex[e] { return i }
            endpointIndex[e] = t.endpoints.count
            t.endpoints.append((servers.contains(e), e.port))
            return t.endpoints.count - 1
        }
        for (s, d, tcp, payload) in raw {
            let si = slot(s), di = slot(d)
            // Cut loopback's large segments to Ethernet's MSS; FIN and PSH ride on the last piece.
            var off = 0
            repeat {
                let n = min(Corpus.mss, payload.count - off)
                let last = off + n >= payload.count
                var flags = tcp.flags.rawValue
                if !last { flags &= ~(TCPFlags.fin.rawValue | TCPFlags.psh.rawValue) }
                t.packets.append(Packet(src: si, dst: di, seq: tcp.seq &+ UInt32(off), ack: tcp.ack, flags: flags,
                                        window: tcp.window, payloadStart: t.payloads.count, payloadCount: n))
                t.payloads.append(contentsOf: payload[off..<(off + n)])
                t.frameBytes += 54 + n + (tcp.flags.contains(.syn) ? 4 : 0)
                off += n
            } while off < payload.count
        }
        if t.packets.isEmpty { throw .fixture("\(path): no TCP packets") }
        t.findSessionIDs(originals: raw.map(\.3.count))
        return t
    }

    /// Session ids (the `Mcp-Session-Id` header, legacy `session_id=`/`sessionId=` URLs) and
    /// where they occur, so each copy can carry its own ids of the same length.
    var sessionIDs: [[UInt8]] = []
    /// (offset in `payloads`, index in `sessionIDs`), by offset.
    var occurrences: [(offset: Int, id: Int)] = []

    private mutating func findSessionIDs(originals: [Int]) {
        func isIDByte(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 45
        }
        let keys = ["mcp-session-id:", "session_id=", "sessionid="].map { Array($0.utf8) }
        let p = payloads
        var ids: [[UInt8]] = []
        var i = 0
        while i < p.count {
            for key in keys where i + key.count <= p.count {
                var match = true
                for k in 0..<key.count where p[i + k] | (p[i + k] >= 65 && p[i + k] <= 90 ? 0x20 : 0) != key[k] { match = false; break }
                guard match else { continue }
                var j = i + key.count
                while j < p.count && p[j] == 32 { j += 1 }
                var e = j
                while e < p.count && isIDByte(p[e]) { e += 1 }
                if e - j >= 8 {
                    let id = Array(p[j..<e])
                    if !ids.contains(id) { ids.append(id) }
                }
            }
            i += 1
        }
        sessionIDs = ids
        // Occurrences inside each original segment (stored contiguously, whatever its pieces).
        var start = 0
        for count in originals {
            let end = start + count
            for (n, id) in ids.enumerated() where id.count <= count {
                var k = start
                while k + id.count <= end {
                    if p[k] == id[0] && Array(p[k..<(k + id.count)]) == id {
                        occurrences.append((k, n))
                        k += id.count
                    } else {
                        k += 1
                    }
                }
            }
            start = end
        }
        occurrences.sort { $0.offset < $1.offset }
    }
}

/// One copy of a fixture: its clients on one host of 10.128.0.0/9 (a host per copy), its server
/// on 192.168.200.(fixture + 1) at the original port, client ports and sequence numbers fresh.
final class MCPCopyStream: CorpusStream {
    private let template: FixtureTemplate
    private let client: UInt32
    private let server: UInt32
    private var ports: [UInt16] = []
    private var deltas: [UInt32] = []
    private var next = 0
    private var occurrence = 0
    private var replacements: [[UInt8]] = []

    init(template: FixtureTemplate, copy: Int, number: Int, rng: inout SplitMix64) {
        self.template = template
        client = 0x0A80_0000 | UInt32(truncatingIfNeeded: number & 0x7F_FFFF)
        server = 0xC0A8_C800 | UInt32(truncatingIfNeeded: (template.index + 1) & 0xFF)
        var clientPort: UInt16 = 32_768 + UInt16(truncatingIfNeeded: rng.below(16_384))
        for e in template.endpoints {
            if e.server {
                ports.append(e.port)
            } else {
                ports.append(clientPort)
                clientPort = clientPort &+ 1
                if clientPort < 32_768 { clientPort = 32_768 }
            }
            deltas.append(UInt32(truncatingIfNeeded: rng.next()))
        }
        let hex = Array("0123456789abcdef".utf8)
        for id in template.sessionIDs {
            // Hex digits stay hex digits (lowercase), anything else (dashes) stays as it is.
            replacements.append(id.map { b in
                let isHex = (b >= 48 && b <= 57) || (b >= 97 && b <= 102) || (b >= 65 && b <= 70)
                return isHex ? hex[rng.below(16)] : b
            })
        }
    }

    func emit(_ w: PcapFileWriter, time: Int64, pool: RandomPool, rng: inout SplitMix64) -> Bool {
        let p = template.packets[next]
        next += 1
        let fromServer = template.endpoints[p.src].server
        let flags = TCPFlags(rawValue: p.flags)
        let a = p.payloadStart, b = p.payloadStart + p.payloadCount
        while occurrence < template.occurrences.count,
              template.occurrences[occurrence].offset + template.sessionIDs[template.occurrences[occurrence].id].count <= a {
            occurrence += 1
        }
        var payload = Array(template.payloads[a..<b])
        var k = occurrence
        // This copy's session ids in place of the fixture's (same length, so framing holds).
        while k < template.occurrences.count, template.occurrences[k].offset < b {
            let (o, id) = template.occurrences[k]
            for x in max(o, a)..<min(o + replacements[id].count, b) { payload[x - a] = replacements[id][x - o] }
            k += 1
        }
        payload.withUnsafeBytes { bytes in
            w.tcp(time: time, kind: 0, src: fromServer ? server : client, sport: ports[p.src],
                  dst: fromServer ? client : server, dport: ports[p.dst],
                  seq: p.seq &+ deltas[p.src], ack: flags.contains(.ack) ? p.ack &+ deltas[p.dst] : 0,
                  flags: p.flags, window: p.window, ttl: fromServer ? 60 : 64, mss: flags.contains(.syn),
                  payload: bytes)
        }
        return next == template.packets.count
    }
}

/// A bulk connection the sensor must classify and skip: TLS on 443 (ClientHello with SNI, then
/// opaque records) or an HTTP/1.1 download of an `application/octet-stream` body on 80. The
/// receiver acknowledges every second segment; the client closes first.
/// A connection left open: the handshake, then the start of an HTTP request whose head never
/// ends (a client that stalls, or one of very many idle keep-alive clients). The sensor holds its
/// flow and the parser's partial head until the flow times out or is evicted.
final class OpenStream: CorpusStream {
    private let client: UInt32, clientPort: UInt16
    private let server: UInt32 = 0xC612_0001 // 198.18.0.1, the benchmarking range (RFC 2544)
    private let serverPort: UInt16 = 8080
    private var clientSeq: UInt32, serverSeq: UInt32
    private var stage = 0
    private static let head = Array("POST /mcp HTTP/1.1\r\nHost: mcp.internal.example:8080\r\nContent-Type: application/json\r\n".utf8)

    init(number: Int, rng: inout SplitMix64) {
        // 50 000 ports per client host: unique 5-tuples for up to 400 million connections.
        client = 0x0A80_0000 &+ UInt32(truncatingIfNeeded: number / 50_000)
        clientPort = UInt16(truncatingIfNeeded: 10_000 + number % 50_000)
        clientSeq = UInt32(truncatingIfNeeded: rng.next())
        serverSeq = UInt32(truncatingIfNeeded: rng.next())
    }

    func emit(_ w: PcapFileWriter, time: Int64, pool: RandomPool, rng: inout SplitMix64) -> Bool {
        let ack = TCPFlags.ack.rawValue, syn = TCPFlags.syn.rawValue, psh = TCPFlags.psh.rawValue
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        switch stage {
        case 0:
            w.tcp(time: time, kind: 3, src: client, sport: clientPort, dst: server, dport: serverPort, seq: clientSeq, ack: 0,
                  flags: syn, window: 64_240, ttl: 64, mss: true, payload: none)
            clientSeq &+= 1
        case 1:
            w.tcp(time: time, kind: 3, src: server, sport: serverPort, dst: client, dport: clientPort, seq: serverSeq, ack: clientSeq,
                  flags: syn | ack, window: 65_160, ttl: 64, mss: true, payload: none)
            serverSeq &+= 1
        case 2:
            w.tcp(time: time, kind: 3, src: client, sport: clientPort, dst: server, dport: serverPort, seq: clientSeq, ack: serverSeq,
                  flags: ack, window: 64_240, ttl: 64, payload: none)
        default:
            OpenStream.head.withUnsafeBytes { bytes in
                w.tcp(time: time, kind: 3, src: client, sport: clientPort, dst: server, dport: serverPort, seq: clientSeq,
                      ack: serverSeq, flags: ack | psh, window: 64_240, ttl: 64, payload: bytes)
            }
            clientSeq &+= UInt32(OpenStream.head.count)
        }
        stage += 1
        return stage == 4
    }
}

final class BulkStream: CorpusStream {
    /// Bytes one direction sends in a burst: literal bytes, or opaque ones from the pool.
    enum Piece { case literal([UInt8]), opaque(Int) }
    struct Burst { var fromClient: Bool; var pieces: [Piece] }

    private enum Stage { case syn, synAck, ack, data, finClient, finServer, lastAck, done }
    private let tls: Bool
    private let client: UInt32, server: UInt32
    private let clientPort: UInt16, serverPort: UInt16
    private var clientSeq: UInt32, serverSeq: UInt32
    private var bursts: [Burst] = []
    private var stage = Stage.syn
    private var burst = 0, piece = 0, pieceOffset = 0
    private var unacked = 0
    private var owesAck = false
    private var scratch: [UInt8] = []
    let estimatedFileBytes: Int

    init(tls: Bool, number: Int, body: Int, rng: inout SplitMix64) {
        self.tls = tls
        let host = number % 20_000
        client = 0x0A00_0000 | UInt32(1 + host / 250) << 8 | UInt32(1 + host % 250)
        clientPort = UInt16(truncatingIfNeeded: 40_000 + (number / 20_000) % 25_000)
        let serverHost = UInt32(1 + rng.below(200))
        server = (tls ? 0xCB00_7100 : 0xC633_6400) | serverHost // 203.0.113.x, 198.51.100.x
        serverPort = tls ? 443 : 80
        clientSeq = UInt32(truncatingIfNeeded: rng.next())
        serverSeq = UInt32(truncatingIfNeeded: rng.next())
        if tls {
            let name = "cdn\(rng.below(64)).static-assets.example.net"
            bursts.append(Burst(fromClient: true, pieces: [.literal(Self.clientHello(serverName: name, rng: &rng))]))
            // ServerHello, ChangeCipherSpec, then the encrypted rest of the handshake.
            var hello: [UInt8] = [22, 3, 3, 0, 122, 2, 0, 0, 118, 3, 3]
            for _ in 0..<32 { hello.append(UInt8(truncatingIfNeeded: rng.next())) }
            hello.append(32)
            for _ in 0..<32 { hello.append(UInt8(truncatingIfNeeded: rng.next())) }
            hello += [0x13, 0x01, 0, 0, 46, 0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 29, 0, 32]
            for _ in 0..<32 { hello.append(UInt8(truncatingIfNeeded: rng.next())) }
            hello += [20, 3, 3, 0, 1, 1]
            var serverFlight: [Piece] = [.literal(hello)]
            serverFlight += Self.records(2800 + rng.below(1200))
            bursts.append(Burst(fromClient: false, pieces: serverFlight))
            var clientFinish: [Piece] = [.literal([20, 3, 3, 0, 1, 1])]
            clientFinish += Self.records(53)
            clientFinish += Self.records(120 + rng.below(300))
            bursts.append(Burst(fromClient: true, pieces: clientFinish))
            bursts.append(Burst(fromClient: false, pieces: Self.records(body)))
        } else {
            let request = "GET /downloads/package-\(number).bin HTTP/1.1\r\nHost: mirror\(rng.below(16)).example.org\r\n"
                + "User-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n"
            bursts.append(Burst(fromClient: true, pieces: [.literal(Array(request.utf8))]))
            let head = "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0\r\nDate: Wed, 25 Nov 2026 12:00:00 GMT\r\n"
                + "Content-Type: application/octet-stream\r\nContent-Length: \(body)\r\n"
                + "Last-Modified: Mon, 02 Nov 2026 08:00:00 GMT\r\nConnection: keep-alive\r\nAccept-Ranges: bytes\r\n\r\n"
            bursts.append(Burst(fromClient: false, pieces: [.literal(Array(head.utf8)), .opaque(body)]))
        }
        // Data segments at 1460 bytes plus one ACK per two, the handshake and the close.
        var payload = 0, segments = 0
        for b in bursts {
            let n = b.pieces.reduce(0) { s, p in if case .literal(let l) = p { return s + l.count } else if case .opaque(let k) = p { return s + k }; return s }
            payload += n
            segments += (n + Corpus.mss - 1) / Corpus.mss
        }
        let packets = segments + segments / 2 + bursts.count + 7
        estimatedFileBytes = payload + packets * (16 + 54) + 8
        scratch.reserveCapacity(Corpus.mss)
    }

    /// Application-data records (type 23) carrying `total` opaque bytes, 16 KiB at most each.
    static func records(_ total: Int) -> [Piece] {
        var out: [Piece] = []
        var left = max(total, 1)
        while left > 0 {
            let n = min(left, 16_384 + 17)
            out.append(.literal([23, 3, 3, UInt8(n >> 8), UInt8(n & 0xFF)]))
            out.append(.opaque(n))
            left -= n
        }
        return out
    }

    /// A TLS 1.3 ClientHello as a browser sends it: SNI, ALPN h2/http1.1, x25519 key share,
    /// supported versions, padded to 512 bytes.
    static func clientHello(serverName: String, rng: inout SplitMix64) -> [UInt8] {
        func u16(_ v: Int) -> [UInt8] { [UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        func ext(_ type: Int, _ data: [UInt8]) -> [UInt8] { u16(type) + u16(data.count) + data }
        let name = Array(serverName.utf8)
        var exts: [UInt8] = []
        exts += ext(0, u16(name.count + 3) + [0] + u16(name.count) + name)
        exts += ext(23, [])
        exts += ext(65281, [0])
        exts += ext(10, u16(8) + [0, 29, 0, 23, 0, 24, 0, 25])
        exts += ext(11, [1, 0])
        exts += ext(35, [])
        let alpn: [UInt8] = [2] + Array("h2".utf8) + [8] + Array("http/1.1".utf8)
        exts += ext(16, u16(alpn.count) + alpn)
        exts += ext(5, [1, 0, 0, 0, 0])
        exts += ext(13, u16(16) + [4, 3, 5, 3, 6, 3, 8, 4, 8, 5, 8, 6, 4, 1, 5, 1])
        var key: [UInt8] = []
        for _ in 0..<32 { key.append(UInt8(truncatingIfNeeded: rng.next())) }
        exts += ext(51, u16(36) + [0, 29] + u16(32) + key)
        exts += ext(45, [1, 1])
        exts += ext(43, [4, 3, 4, 3, 3])
        var body: [UInt8] = [3, 3]
        for _ in 0..<32 { body.append(UInt8(truncatingIfNeeded: rng.next())) }
        body.append(32)
        for _ in 0..<32 { body.append(UInt8(truncatingIfNeeded: rng.next())) }
        let suites = [0x1301, 0x1303, 0x1302, 0xC02B, 0xC02F, 0xCCA9, 0xCCA8, 0xC02C, 0xC030, 0xC013, 0xC014, 0x009C, 0x009D, 0x002F, 0x0035]
        body += u16(suites.count * 2)
        for s in suites { body += u16(s) }
        body += [1, 0]
        // Padding (RFC 7685) to a 512-byte handshake message.
        let unpadded = 4 + body.count + 2 + exts.count
        if unpadded + 4 < 512 { exts += ext(21, [UInt8](repeating: 0, count: 512 - unpadded - 4)) }
        body += u16(exts.count) + exts
        let handshake: [UInt8] = [1, 0] + u16(body.count) + body
        return [22, 3, 1] + u16(handshake.count) + handshake
    }

    func emit(_ w: PcapFileWriter, time: Int64, pool: RandomPool, rng: inout SplitMix64) -> Bool {
        let kind = tls ? 1 : 2
        let ack = TCPFlags.ack.rawValue, syn = TCPFlags.syn.rawValue, fin = TCPFlags.fin.rawValue, psh = TCPFlags.psh.rawValue
        func send(fromClient: Bool, flags: UInt8, payload: UnsafeRawBufferPointer, mss: Bool = false) {
            if fromClient {
                w.tcp(time: time, kind: kind, src: client, sport: clientPort, dst: server, dport: serverPort,
                      seq: clientSeq, ack: flags & ack != 0 ? serverSeq : 0, flags: flags, window: 64_240, ttl: 64,
                      mss: mss, payload: payload)
                clientSeq &+= UInt32(payload.count) + (flags & (syn | fin) != 0 ? 1 : 0)
            } else {
                w.tcp(time: time, kind: kind, src: server, sport: serverPort, dst: client, dport: clientPort,
                      seq: serverSeq, ack: clientSeq, flags: flags, window: 65_160, ttl: 52, mss: mss, payload: payload)
                serverSeq &+= UInt32(payload.count) + (flags & (syn | fin) != 0 ? 1 : 0)
            }
        }
        let none = UnsafeRawBufferPointer(start: nil, count: 0)
        switch stage {
        case .syn:
            send(fromClient: true, flags: syn, payload: none, mss: true)
            stage = .synAck
        case .synAck:
            send(fromClient: false, flags: syn | ack, payload: none, mss: true)
            stage = .ack
        case .ack:
            send(fromClient: true, flags: ack, payload: none)
            stage = .data
        case .data:
            let b = bursts[burst]
            if owesAck {
                // The receiver acknowledges every second segment, and the end of each burst.
                send(fromClient: !b.fromClient, flags: ack, payload: none)
                owesAck = false
                if piece == b.pieces.count { nextBurst() }
                break
            }
            scratch.removeAll(keepingCapacity: true)
            while scratch.count < Corpus.mss && piece < b.pieces.count {
                let room = Corpus.mss - scratch.count
                switch b.pieces[piece] {
                case .literal(let l):
                    let n = min(room, l.count - pieceOffset)
                    scratch.append(contentsOf: l[pieceOffset..<(pieceOffset + n)])
                    pieceOffset += n
                    if pieceOffset == l.count { piece += 1; pieceOffset = 0 }
                case .opaque(let total):
                    let n = min(room, total - pieceOffset)
                    let at = rng.below(pool.bytes.count - Corpus.mss)
                    scratch.append(contentsOf: pool.bytes[at..<(at + n)])
                    pieceOffset += n
                    if pieceOffset == total { piece += 1; pieceOffset = 0 }
                }
            }
            let lastOfBurst = piece == b.pieces.count
            scratch.withUnsafeBytes { send(fromClient: b.fromClient, flags: ack | (lastOfBurst ? psh : 0), payload: $0) }
            unacked += 1
            if unacked == 2 || lastOfBurst {
                unacked = 0
                owesAck = true
            }
        case .finClient:
            send(fromClient: true, flags: fin | ack, payload: none)
            stage = .finServer
        case .finServer:
            send(fromClient: false, flags: fin | ack, payload: none)
            stage = .lastAck
        case .lastAck:
            send(fromClient: true, flags: ack, payload: none)
            stage = .done
        case .done:
            break
        }
        return stage == .done
    }

    private func nextBurst() {
        burst += 1
        piece = 0
        pieceOffset = 0
        if burst == bursts.count { stage = .finClient }
    }
}

extension Corpus {
    /// The top-level `*.pcap` files of a folder, sorted by name (the fixtures' originals).
    public static func fixtureFiles(in folder: String) -> [String] {
        guard let dir = opendir(folder) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasSuffix(".pcap") { names.append(name) }
        }
        return names.sorted().map { folder.hasSuffix("/") ? folder + $0 : folder + "/" + $0 }
    }
}
