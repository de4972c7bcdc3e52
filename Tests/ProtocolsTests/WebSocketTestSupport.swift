// WebSocket test harness: frame builder, a per-direction permessage-deflate compressor, and a
// runner that feeds a scripted connection whole, one byte at a time and in random splits.
import CZlib
import SonarCore
import Testing
@testable import SonarProtocols

/// One frame on the wire. `maskKey` nil sends it unmasked; `lengthForm` forces a length
/// encoding (7, 16 or 64 bits) to test non-minimal forms.
func wsFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false, rsv2: Bool = false,
             maskKey: [UInt8]? = nil, lengthForm: Int? = nil) -> [UInt8] {
    var out: [UInt8] = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (rsv2 ? 0x20 : 0) | opcode]
    let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
    let n = payload.count
    let form = lengthForm ?? (n < 126 ? 7 : n <= 0xFFFF ? 16 : 64)
    switch form {
    case 7: out.append(maskBit | UInt8(n))
    case 16: out += [maskBit | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
    default:
        out.append(maskBit | 127)
        for s in stride(from: 56, through: 0, by: -8) { out.append(UInt8((UInt64(n) >> UInt64(s)) & 0xFF)) }
    }
    if let key = maskKey {
        out += key
        out += payload.enumerated().map { $0.element ^ key[$0.offset & 3] }
    } else {
        out += payload
    }
    return out
}

let clientKey: [UInt8] = [0x37, 0xFA, 0x21, 0x3D]

/// A client frame (masked, as RFC 6455 requires).
func cFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false) -> [UInt8] {
    wsFrame(opcode, payload, fin: fin, rsv1: rsv1, maskKey: clientKey)
}

/// A server frame (unmasked).
func sFrame(_ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv1: Bool = false) -> [UInt8] {
    wsFrame(opcode, payload, fin: fin, rsv1: rsv1)
}

func closePayload(_ code: Int, _ reason: String) -> [UInt8] {
    [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)
}

/// The sending side of permessage-deflate: ONE raw deflate stream, so with context takeover
/// later messages reference earlier ones. Each message ends with Z_SYNC_FLUSH and its trailing
/// 00 00 FF FF removed (RFC 7692 7.2.1).
final class WSCompressor {
    private let strm: UnsafeMutablePointer<z_stream>
    private let windowBits: Int32
    private var level: Int32

    init(windowBits: Int32 = 15, level: Int32 = 6) {
        self.windowBits = windowBits
        self.level = level
        strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        strm.initialize(to: z_stream())
        let rc = deflateInit2_(strm, level, Z_DEFLATED, -windowBits, 8, Z_DEFAULT_STRATEGY,
                               zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        #expect(rc == Z_OK)
    }

    deinit {
        deflateEnd(strm)
        strm.deallocate()
    }

    /// Compresses one message; `finish` ends it with a final block (BFINAL) instead.
    func message(_ input: [UInt8], finish: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        var input = input
        let flush = finish ? Z_FINISH : Z_SYNC_FLUSH
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
        // Nothing pending after an earlier flush: zlib writes nothing, and RFC 7692 7.2.3.6 says
        // an empty message is then sent as one 00 byte (an empty stored block with the tail).
        if !finish && out.isEmpty { return [0x00] }
        if !finish {
            #expect(Array(out.suffix(4)) == [0, 0, 0xFF, 0xFF])
            out.removeLast(4)
        }
        return out
    }

    /// A fresh stream (what a `*_no_context_takeover` sender does per message).
    func reset() { deflateReset(strm) }

    /// A fresh stream that may reference `dictionary` (a sender that ended the previous message
    /// with BFINAL but keeps its context).
    func reset(dictionary: [UInt8]) {
        deflateReset(strm)
        let tail = Array(dictionary.suffix(1 << Int(windowBits)))
        _ = tail.withUnsafeBufferPointer { deflateSetDictionary(strm, $0.baseAddress, uInt($0.count)) }
    }
}

struct WSRunResult: Equatable {
    var outputs: [WebSocketOutput]
    var counters: Counters
}

func wsRun(_ steps: [Step], handshake: WebSocketHandshake = .init(), limits: WebSocketLimits = .init(),
           split: Split) -> WSRunResult {
    let p = WebSocketConnectionParser(handshake: handshake, limits: limits)
    var out: [WebSocketOutput] = []
    var rng = SplitMix64(seed: { if case .random(let s) = split { return s } else { return 0 } }())
    for step in steps {
        switch step {
        case .send(let dir, let bytes):
            var i = 0
            while i < bytes.count {
                let len: Int
                switch split {
                case .whole: len = bytes.count
                case .bytes: len = 1
                case .random: len = Int.random(in: 0...(Bool.random(using: &rng) ? 7 : 3000), using: &rng)
                }
                let end = min(bytes.count, i + len)
                bytes[i..<end].withUnsafeBytes { p.feed($0, direction: dir) { out.append($0) } }
                i = end
            }
        case .gap(let dir, let n):
            p.gap(n, direction: dir) { out.append($0) }
        case .end(let dir):
            p.end(direction: dir) { out.append($0) }
        }
    }
    return WSRunResult(outputs: out, counters: p.counters)
}

/// Runs every split and expects identical results; returns the result of the whole feed.
@discardableResult
func wsRunAllSplits(_ steps: [Step], handshake: WebSocketHandshake = .init(), limits: WebSocketLimits = .init(),
                    byteByByte: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) -> WSRunResult {
    let reference = wsRun(steps, handshake: handshake, limits: limits, split: .whole)
    var splits: [Split] = [.random(1), .random(2), .random(0xDEAD_BEEF)]
    if byteByByte { splits.append(.bytes) }
    for s in splits {
        let r = wsRun(steps, handshake: handshake, limits: limits, split: s)
        #expect(r == reference, "\(s) differs from whole feed", sourceLocation: sourceLocation)
    }
    return reference
}

func counters(_ pairs: [(String, Int)]) -> Counters {
    var c = Counters()
    for (k, v) in pairs { c.add(k, v) }
    return c
}

func text(_ d: Direction, _ s: String) -> WebSocketOutput { .message(d, .text, Array(s.utf8)) }

let deflateHandshake = WebSocketHandshake(subprotocol: "mcp", extensions: "permessage-deflate")
