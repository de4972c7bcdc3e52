// Test harness: feeds a scripted connection to the parser whole, one byte at a time and in
// random splits, and checks that every way of cutting it gives the same outputs.
import CZlib
import SonarCore
import Testing
@testable import SonarProtocols

/// One event of a scripted connection, in the order reassembly would report it.
enum Step {
    case send(Direction, [UInt8])
    case gap(Direction, Int)
    case end(Direction)
}

func up(_ s: String) -> Step { .send(.toServer, Array(s.utf8)) }
func down(_ s: String) -> Step { .send(.toClient, Array(s.utf8)) }
func up(_ b: [UInt8]) -> Step { .send(.toServer, b) }
func down(_ b: [UInt8]) -> Step { .send(.toClient, b) }

/// SplitMix64: deterministic, so a failing split can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Split: CustomStringConvertible {
    case whole
    case bytes
    case random(UInt64)
    var description: String {
        switch self {
        case .whole: return "whole"
        case .bytes: return "one byte at a time"
        case .random(let s): return "random splits, seed \(s)"
        }
    }
}

struct RunResult: Equatable {
    var outputs: [HTTPOutput]
    var counters: Counters
    var isHTTP: Bool?
    var afterUpgrade: [[UInt8]]
}

func run(_ steps: [Step], limits: HTTPLimits = .init(), split: Split, emitsResponseHeads: Bool = true) -> RunResult {
    let p = HTTPConnectionParser(limits: limits, emitsResponseHeads: emitsResponseHeads)
    var out: [HTTPOutput] = []
    var rng = SplitMix64(seed: { if case .random(let s) = split { return s } else { return 0 } }())
    // Like the integrator: after `.upgrade`, the remainder of that feed plus every later byte
    // goes to the next protocol instead of this parser.
    var handedOver: [[UInt8]]?
    for step in steps {
        switch step {
        case .send(let dir, let bytes):
            var i = 0
            while i < bytes.count {
                if handedOver != nil {
                    handedOver?[dir.index] += bytes[i...]
                    break
                }
                let len: Int
                switch split {
                case .whole: len = bytes.count
                case .bytes: len = 1
                case .random:
                    // Mostly small pieces, sometimes large ones, sometimes empty feeds.
                    len = Int.random(in: 0...(Bool.random(using: &rng) ? 7 : 3000), using: &rng)
                }
                let end = min(bytes.count, i + len)
                bytes[i..<end].withUnsafeBytes { p.feed($0, direction: dir) { out.append($0) } }
                i = end
                if p.isUpgraded && handedOver == nil {
                    handedOver = [p.bytesAfterUpgrade(.toServer), p.bytesAfterUpgrade(.toClient)]
                }
            }
        case .gap(let dir, let n):
            p.gap(n, direction: dir) { out.append($0) }
        case .end(let dir):
            p.end(direction: dir) { out.append($0) }
        }
    }
    return RunResult(outputs: out, counters: p.counters, isHTTP: p.isHTTP,
                     afterUpgrade: handedOver ?? [[], []])
}

/// Runs every split and expects identical results; returns the result of the whole feed.
@discardableResult
func runAllSplits(_ steps: [Step], limits: HTTPLimits = .init(), byteByByte: Bool = true,
                  sourceLocation: SourceLocation = #_sourceLocation) -> RunResult {
    let reference = run(steps, limits: limits, split: .whole)
    var splits: [Split] = [.random(1), .random(2), .random(0xDEAD_BEEF)]
    if byteByByte { splits.append(.bytes) }
    for s in splits {
        let r = run(steps, limits: limits, split: s)
        #expect(r == reference, "\(s) differs from whole feed", sourceLocation: sourceLocation)
    }
    return reference
}

// MARK: - Building expected values

func headers(_ pairs: [(String, String)]) -> HTTPHeaders {
    HTTPHeaders(pairs.map { (name: $0.0, value: $0.1) })
}

func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

/// A compact view of the outputs for assertions that need not spell out every header.
enum Out: Equatable, CustomStringConvertible {
    case req(Int, String, String)          // exchange index, method, target
    case resp(Int, Int, String?)           // exchange index, status, request method
    case body(Direction, Int, String)      // exchange index, text
    case sse(Int, String, String, String?) // exchange index, event, data, id
    case upgrade(Int, Int)
    case anomaly(Direction, String)

    var description: String {
        switch self {
        case .req(let i, let m, let t): return "req#\(i) \(m) \(t)"
        case .resp(let i, let s, let m): return "resp#\(i) \(s) (\(m ?? "-"))"
        case .body(let d, let i, let t): return "body#\(i) \(d) \(t)"
        case .sse(let i, let e, let d, let id): return "sse#\(i) \(e) \(d) id=\(id ?? "nil")"
        case .upgrade(let i, let s): return "upgrade#\(i) \(s)"
        case .anomaly(let d, let n): return "anomaly \(d) \(n)"
        }
    }
}

func summarize(_ outputs: [HTTPOutput]) -> [Out] {
    outputs.map { o in
        switch o {
        case .requestHead(let c):
            return .req(c.exchangeIndex, c.request?.method ?? "?", c.request?.target ?? "?")
        case .responseHead(let c):
            return .resp(c.exchangeIndex, c.response?.status ?? -1, c.request?.method)
        case .body(let d, let c, let b):
            return .body(d, c.exchangeIndex, String(decoding: b, as: UTF8.self))
        case .sseEvent(let c, let e):
            return .sse(c.exchangeIndex, e.event, String(decoding: e.data, as: UTF8.self), e.id)
        case .upgrade(let c):
            return .upgrade(c.exchangeIndex, c.response?.status ?? -1)
        case .anomaly(let d, let n):
            return .anomaly(d, n)
        }
    }
}

// MARK: - zlib test vectors

/// Compresses with zlib: windowBits 31 gives gzip, 15 zlib-wrapped deflate, -15 raw deflate.
func compress(_ input: [UInt8], windowBits: Int32, level: Int32 = 6) -> [UInt8] {
    compressStream(windowBits: windowBits, level: level) { write in write(input) }
}

/// Compresses what `produce` writes, without holding the uncompressed data in memory.
func compressStream(windowBits: Int32, level: Int32 = 6,
                    _ produce: ((([UInt8]) -> Void)) -> Void) -> [UInt8] {
    // zlib remembers the stream's address: keep it at a fixed one.
    let strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
    strm.initialize(to: z_stream())
    defer { strm.deallocate() }
    let rc = deflateInit2_(strm, level, Z_DEFLATED, windowBits, 8, Z_DEFAULT_STRATEGY,
                           zlibVersion(), Int32(MemoryLayout<z_stream>.size))
    #expect(rc == Z_OK)
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 64 * 1024)
    func pump(_ input: [UInt8], flush: Int32) {
        var input = input
        input.withUnsafeMutableBytes { inp in
            strm.pointee.next_in = inp.baseAddress?.assumingMemoryBound(to: Bytef.self)
            strm.pointee.avail_in = uInt(inp.count)
            repeat {
                let produced: Int = buf.withUnsafeMutableBytes { ob in
                    strm.pointee.next_out = ob.baseAddress?.assumingMemoryBound(to: Bytef.self)
                    strm.pointee.avail_out = uInt(ob.count)
                    _ = deflate(strm, flush)
                    return ob.count - Int(strm.pointee.avail_out)
                }
                out.append(contentsOf: buf[0..<produced])
            } while strm.pointee.avail_out == 0
        }
    }
    produce { pump($0, flush: Z_NO_FLUSH) }
    pump([], flush: Z_FINISH)
    deflateEnd(strm)
    return out
}

/// `data` as chunked transfer coding with chunks of at most `size` bytes.
func chunked(_ data: [UInt8], size: Int) -> [UInt8] {
    var out: [UInt8] = []
    var i = 0
    while i < data.count {
        let n = min(size, data.count - i)
        out += Array(String(n, radix: 16).utf8) + [13, 10] + data[i..<(i + n)] + [13, 10]
        i += n
    }
    return out + Array("0\r\n\r\n".utf8)
}
