import SonarCapture
import SonarCore
import SonarDecode
import SonarOutput

/// Traffic made to exhaust the sensor's memory (issue 8, part 4), generated in-process and fed
/// to an engine packet by packet, so a million flows need no capture file.
public enum StressScenario: String, CaseIterable, Sendable {
    /// SYNs from `count` distinct client endpoints to one server: every packet is a new flow.
    case synFlood = "syn-flood"
    /// One connection whose client sends `count` segments of HTTP requests, every one of them
    /// out of order behind a hole that never fills (reversed in runs of 64, a 100-byte hole
    /// before each).
    case outOfOrder = "out-of-order"
    /// Slow-loris: `connections` connections open a request head, then send it one byte per
    /// packet, round-robin, `count` packets in all: heads that never end.
    case slowLoris = "slow-loris"
    /// `connections` connections each sending a JSON request body announced as 16 MiB, one
    /// 1400-byte segment at a time, round-robin, `count` packets in all: bodies that never end.
    case slowBody = "slow-body"
}

/// What a stress run measured. Memory figures are the process's (RSS from /proc), the others the
/// engine's own accounting, sampled every `sampleEvery` packets and at the end.
public struct StressReport: Sendable {
    public var scenario: StressScenario
    public var packets = 0
    public var seconds = 0.0
    public var peakFlows = 0
    public var peakPendingBytes = 0
    public var peakRecentBytes = 0
    public var peakAppBufferedBytes = 0
    public var flowsEvicted: UInt64 = 0
    /// What the engine's accounting still holds after every flow was finished (0 unless it leaks).
    public var heldAfterFinish = 0
    public var residentBefore = 0
    public var peakResident = 0
    public var residentAfter = 0
    /// Process peak (VmHWM) at the end: includes whatever ran before in the same process.
    public var processPeakResident = 0
    public var events: [String: Int] = [:]
    public var alerts: [String: Int] = [:]
    public var counters: [String: Int] = [:]
}

/// Counts events by type and alerts by rule; keeps the last `stats` line's counters.
final class TallySink: EventSink {
    var events: [String: Int] = [:]
    var alerts: [String: Int] = [:]
    var lastStats: [UInt8] = []
    func write(line: [UInt8]) {
        let text = String(decoding: line, as: UTF8.self)
        let type = Self.field(text, "event_type") ?? "?"
        events[type, default: 0] += 1
        if type == "alert", let rule = Self.field(text, "rule") { alerts[rule, default: 0] += 1 }
        if type == "stats" { lastStats = line }
    }
    func flush() {}
    func close() {}

    static func field(_ text: String, _ name: String) -> String? {
        guard let r = text.range(of: "\"\(name)\":\"") else { return nil }
        let rest = text[r.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}

public enum Stress {
    /// Runs one scenario through a fresh engine with `config`. `connections` applies to the
    /// slow scenarios. Nothing is written anywhere; events are counted.
    public static func run(_ scenario: StressScenario, count: Int, connections: Int = 10_000,
                           config: EngineConfig, sampleEvery: Int = 1024) -> StressReport {
        var report = StressReport(scenario: scenario)
        let sink = TallySink()
        let engine = Engine(config: config, sink: sink)
        engine.flowEvents = false
        report.residentBefore = ProcessMemory.residentBytes()
        report.peakResident = report.residentBefore
        var builder = PacketBuilder()
        let start = monotonicSeconds()
        func sample() {
            report.peakFlows = max(report.peakFlows, engine.flowsActive)
            report.peakPendingBytes = max(report.peakPendingBytes, engine.reassemblyPendingBytes)
            report.peakRecentBytes = max(report.peakRecentBytes, engine.reassemblyRecentBytes)
            report.peakAppBufferedBytes = max(report.peakAppBufferedBytes, engine.appBufferedBytes)
            report.peakResident = max(report.peakResident, ProcessMemory.residentBytes())
        }
        var sent = 0
        func send(_ packet: [UInt8], time: Int64) {
            packet.withUnsafeBytes { raw in
                engine.process(CapturedPacket(timestamp: Timestamp(microseconds: time), bytes: raw, wireLength: raw.count),
                               linkType: LinkType.ethernet)
            }
            sent += 1
            if sent % sampleEvery == 0 { sample() }
        }
        let t0: Int64 = 1_795_000_000_000_000 // 2026-11-18, packet time
        let server = Host(address: 0xC000_0201, port: 8000) // 192.0.2.1:8000
        switch scenario {
        case .synFlood:
            for i in 0..<count {
                // 10.0.0.0/8 sources, 50 000 ports each: a new 5-tuple every packet.
                let client = Host(address: 0x0A00_0000 | UInt32(truncatingIfNeeded: i / 50_000 + 1), port: UInt16(10_000 + i % 50_000))
                send(builder.tcp(from: client, to: server, seq: UInt32(truncatingIfNeeded: i &* 2_654_435_761), ack: 0,
                                 flags: [.syn], payload: []), time: t0 + Int64(i) * 10)
            }
        case .outOfOrder:
            let client = Host(address: 0x0A00_0001, port: 40_000)
            let isn: UInt32 = 1000, sisn: UInt32 = 5000
            var t = t0
            send(builder.tcp(from: client, to: server, seq: isn, ack: 0, flags: [.syn], payload: []), time: t)
            send(builder.tcp(from: server, to: client, seq: sisn, ack: isn + 1, flags: [.syn, .ack], payload: []), time: t)
            send(builder.tcp(from: client, to: server, seq: isn + 1, ack: sisn + 1, flags: [.ack], payload: []), time: t)
            let segment = httpRequest(length: 1400)
            let stride = 1500, run = 64
            var k = 0
            while k < count {
                let n = min(run, count - k)
                for j in (0..<n).reversed() {
                    let offset = (k + j) * stride + 100
                    t += 1
                    send(builder.tcp(from: client, to: server, seq: isn &+ 1 &+ UInt32(truncatingIfNeeded: offset),
                                     ack: sisn + 1, flags: [.ack, .psh], payload: segment), time: t)
                }
                k += n
            }
        case .slowLoris, .slowBody:
            let n = max(1, connections)
            var next = [UInt32](repeating: 0, count: n)
            let isn: UInt32 = 7000, sisn: UInt32 = 9000
            var t = t0
            let head: [UInt8] = scenario == .slowLoris
                ? Array("POST /mcp HTTP/1.1\r\nHost: 192.0.2.1:8000\r\nX-Slow: ".utf8)
                : Array("POST /mcp HTTP/1.1\r\nHost: 192.0.2.1:8000\r\nContent-Type: application/json\r\nMcp-Protocol-Version: 2025-11-25\r\nContent-Length: 16777216\r\n\r\n".utf8)
            let piece: [UInt8] = scenario == .slowLoris ? [UInt8(ascii: "a")] : [UInt8](repeating: UInt8(ascii: " "), count: 1400)
            func client(_ c: Int) -> Host { Host(address: 0x0A00_0000 | UInt32(c / 50_000 + 1), port: UInt16(10_000 + c % 50_000)) }
            for c in 0..<min(n, count) {
                t += 1
                send(builder.tcp(from: client(c), to: server, seq: isn, ack: 0, flags: [.syn], payload: []), time: t)
                send(builder.tcp(from: server, to: client(c), seq: sisn, ack: isn + 1, flags: [.syn, .ack], payload: []), time: t)
                send(builder.tcp(from: client(c), to: server, seq: isn + 1, ack: sisn + 1, flags: [.ack, .psh], payload: head), time: t)
                next[c] = isn + 1 + UInt32(head.count)
            }
            var i = 0
            while sent < count {
                let c = i % n
                i += 1
                t += 1
                send(builder.tcp(from: client(c), to: server, seq: next[c], ack: sisn + 1, flags: [.ack, .psh], payload: piece), time: t)
                next[c] &+= UInt32(piece.count)
            }
        }
        sample()
        report.packets = sent
        report.seconds = monotonicSeconds() - start
        report.flowsEvicted = engine.flowsEvictedTotal
        engine.finish()
        report.heldAfterFinish = engine.appBufferedBytes + engine.reassemblyPendingBytes + engine.reassemblyRecentBytes
        report.residentAfter = ProcessMemory.residentBytes()
        report.processPeakResident = ProcessMemory.peakResidentBytes()
        report.events = sink.events
        report.alerts = sink.alerts
        report.counters = flatCounters(sink.lastStats)
        return report
    }

    /// A small HTTP request filling `length` bytes, so every segment starts a message.
    static func httpRequest(length: Int) -> [UInt8] {
        var r = Array("GET /mcp HTTP/1.1\r\nHost: 192.0.2.1:8000\r\nX-Pad: ".utf8)
        let tail = Array("\r\n\r\n".utf8)
        r += [UInt8](repeating: UInt8(ascii: "p"), count: max(0, length - r.count - tail.count))
        return r + tail
    }

    /// `layer.name` → value from a `stats` line's counters object (two levels).
    static func flatCounters(_ line: [UInt8]) -> [String: Int] {
        let text = String(decoding: line, as: UTF8.self)
        guard let r = text.range(of: "\"counters\":{") else { return [:] }
        var out: [String: Int] = [:]
        var layer = ""
        var name = ""
        var i = r.upperBound
        var depth = 1
        var token = ""
        var inString = false
        var expectingValue = false
        while i < text.endIndex, depth > 0 {
            let ch = text[i]
            if inString {
                if ch == "\"" { inString = false } else { token.append(ch) }
            } else {
                switch ch {
                case "\"": inString = true; token = ""
                case ":":
                    if depth == 1 { layer = token } else { name = token; expectingValue = true }
                    token = ""
                case "{": depth += 1
                case "}": depth -= 1; expectingValue = false
                case ",": expectingValue = false
                default:
                    if expectingValue, let d = ch.wholeNumberValue {
                        out["\(layer).\(name)", default: 0] = out["\(layer).\(name)", default: 0] * 10 + d
                    }
                }
            }
            i = text.index(after: i)
        }
        return out
    }
}

struct Host {
    var address: UInt32
    var port: UInt16
}

/// Ethernet + IPv4 + TCP frames, checksums left zero (the decoder does not check them).
struct PacketBuilder {
    private var ipid: UInt16 = 0

    mutating func tcp(from: Host, to: Host, seq: UInt32, ack: UInt32, flags: TCPFlags, payload: [UInt8]) -> [UInt8] {
        ipid &+= 1
        var f = [UInt8](repeating: 0, count: 12)
        f += [0x08, 0x00]
        let total = 20 + 20 + payload.count
        f += [0x45, 0, UInt8(total >> 8), UInt8(total & 0xFF), UInt8(ipid >> 8), UInt8(ipid & 0xFF), 0x40, 0, 64, 6, 0, 0]
        f += be32(from.address) + be32(to.address)
        f += be16(from.port) + be16(to.port) + be32(seq) + be32(ack)
        f += [0x50, flags.rawValue] + be16(65535) + [0, 0, 0, 0]
        return f + payload
    }

    private func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    private func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
