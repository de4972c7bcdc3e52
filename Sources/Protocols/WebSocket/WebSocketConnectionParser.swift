// Incremental RFC 6455 frame parser with RFC 7692 permessage-deflate, for both directions of
// one upgraded connection.
import SonarCore

/// Parses both directions of a WebSocket connection after its HTTP/1.1 Upgrade handshake.
///
/// Push-based: `feed` takes any number of bytes cut at any boundary and emits what completed;
/// the output never depends on how the bytes were cut. Per direction it keeps at most one
/// frame header (14 bytes), one control payload (125 bytes) and one message (bounded by
/// `maxMessageBytes`); an oversized frame is skipped by count and never buffered.
///
/// Gaps (lost bytes of known length, from TCP reassembly):
/// - inside a frame payload: the bytes are skipped by count and the message is damaged (not
///   emitted, counted). If that message was compressed with context takeover, the inflater's
///   history is gone: `websocket.deflate_context_lost` is reported once and every later
///   compressed message of that direction is dropped (never emitted as garbage); uncompressed
///   messages continue.
/// - reaching into a frame header: WebSocket has no sync marker, and guessing a header in
///   masked or compressed bytes yields plausible garbage, so the direction stops parsing
///   (`websocket.gap_in_header`). Unlike HTTP we do not resynchronise.
///
/// A connection joined mid-stream (no handshake seen) is out of scope: without the handshake
/// the extensions are unknown and a compressed stream cannot be inflated without its history,
/// so the integrator does not create this parser for it.
public final class WebSocketConnectionParser {
    public let handshake: WebSocketHandshake
    public let limits: WebSocketLimits
    /// Anomalies and damage, by name ("websocket.bad_opcode", "websocket.gap", ...).
    public private(set) var counters = Counters()
    /// The permessage-deflate parameters of the 101 response.
    public private(set) var deflate: WebSocketDeflateParameters

    private let sides: [Side]
    /// Handshake anomalies, reported with the first output call (init has no emitter).
    private var pendingAnomalies: [String]
    /// Unmasked compressed bytes on their way to the inflater (reused).
    private var scratch: [UInt8] = []

    private static let scratchSize = 16 * 1024

    /// Tail appended to each compressed message before its final inflate (RFC 7692 7.2.2).
    private static let deflateTail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public init(handshake: WebSocketHandshake, limits: WebSocketLimits = .init()) {
        self.handshake = handshake
        self.limits = limits
        let (params, anomalies) = WebSocketDeflateParameters.negotiated(from: handshake.extensions)
        deflate = params
        pendingAnomalies = anomalies
        sides = [Side(direction: .toServer), Side(direction: .toClient)]
    }

    // MARK: - Input

    /// Parses `bytes`, the next bytes of `direction` in stream order.
    public func feed(_ bytes: UnsafeRawBufferPointer, direction: Direction, emit: (WebSocketOutput) -> Void) {
        flushPending(emit)
        let side = sides[direction.index]
        guard !side.ended, let base = bytes.baseAddress else { return }
        let count = bytes.count
        var i = 0
        while i < count {
            switch side.state {
            case .dead:
                return
            case .header:
                // Fast path: a whole header in the input is parsed in place.
                if side.header.isEmpty && count - i >= 2 {
                    let size = Self.headerSize(base.load(fromByteOffset: i, as: UInt8.self),
                                               base.load(fromByteOffset: i + 1, as: UInt8.self))
                    if count - i >= size {
                        startFrame(side, UnsafeRawBufferPointer(start: base + i, count: size), emit)
                        i += size
                        continue
                    }
                }
                let need = side.header.count < 2 ? 2 : Self.headerSize(side.header[0], side.header[1])
                let take = min(need - side.header.count, count - i)
                side.header.append(contentsOf: UnsafeRawBufferPointer(start: base + i, count: take))
                i += take
                if side.header.count >= 2 && side.header.count == Self.headerSize(side.header[0], side.header[1]) {
                    let h = side.header
                    side.header.removeAll(keepingCapacity: true)
                    h.withUnsafeBytes { startFrame(side, $0, emit) }
                }
            case .payload:
                let n = Int(min(UInt64(count - i), side.frame.remaining))
                payload(side, UnsafeRawBufferPointer(start: base + i, count: n), emit)
                i += n
                side.frame.remaining -= UInt64(n)
                side.frame.phase = (side.frame.phase + n) & 3
                if side.frame.remaining == 0 { finishFrame(side, emit) }
            }
        }
    }

    /// `length` bytes of `direction` were lost.
    public func gap(_ length: Int, direction: Direction, emit: (WebSocketOutput) -> Void) {
        flushPending(emit)
        let side = sides[direction.index]
        guard length > 0, !side.ended else { return }
        counters.add("websocket.gap")
        switch side.state {
        case .dead:
            return
        case .header:
            loseSync(side, emit)
        case .payload:
            let inFrame = Int(min(UInt64(length), side.frame.remaining))
            damageFrame(side, emit)
            side.frame.remaining -= UInt64(inFrame)
            side.frame.phase = (side.frame.phase + inFrame) & 3
            if length > inFrame {
                // The gap runs into the next frame's header.
                loseSync(side, emit)
            } else if side.frame.remaining == 0 {
                finishFrame(side, emit)
            }
        }
    }

    /// `direction` ended (FIN, RST or flow timeout); later input there is ignored.
    public func end(direction: Direction, emit: (WebSocketOutput) -> Void) {
        flushPending(emit)
        let side = sides[direction.index]
        guard !side.ended else { return }
        side.ended = true
        if side.state == .payload || !side.header.isEmpty || side.message.open {
            counters.add("websocket.truncated")
        }
        side.state = .dead
        side.message = Message()
        side.control = []
    }

    // MARK: - Frames

    /// Header length from its first two bytes: 2, + 2 or 8 extended length, + 4 masking key.
    private static func headerSize(_ b0: UInt8, _ b1: UInt8) -> Int {
        var n = 2
        switch b1 & 0x7F {
        case 126: n += 2
        case 127: n += 8
        default: break
        }
        if b1 & 0x80 != 0 { n += 4 }
        return n
    }

    /// Decodes a complete header and decides what the payload is for.
    private func startFrame(_ side: Side, _ h: UnsafeRawBufferPointer, _ emit: (WebSocketOutput) -> Void) {
        let d = side.direction
        let b0 = h[0], b1 = h[1]
        let fin = b0 & 0x80 != 0
        let rsv1 = b0 & 0x40 != 0
        let rsv23 = b0 & 0x30 != 0
        let opcode = b0 & 0x0F
        let masked = b1 & 0x80 != 0
        var length = UInt64(b1 & 0x7F)
        var offset = 2
        if length == 126 {
            length = UInt64(h[2]) << 8 | UInt64(h[3])
            offset = 4
            if length < 126 { anomaly(d, "websocket.non_minimal_length", emit) }
        } else if length == 127 {
            length = 0
            for j in 2..<10 { length = length << 8 | UInt64(h[j]) }
            offset = 10
            if length >> 63 != 0 {
                // RFC 6455 5.2: the most significant bit must be 0. No sane skip exists.
                anomaly(d, "websocket.bad_length", emit)
                side.state = .dead
                return
            }
            if length <= 0xFFFF { anomaly(d, "websocket.non_minimal_length", emit) }
        }
        var key: UInt32 = 0
        if masked { key = h.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
        // Masking is wrong but still decodable: report it and carry on (5.1).
        if d == .toServer && !masked { anomaly(d, "websocket.unmasked_client_frame", emit) }
        if d == .toClient && masked { anomaly(d, "websocket.masked_server_frame", emit) }

        var frame = Frame(fin: fin, opcode: opcode, masked: masked, key: key, remaining: length, phase: 0, role: .skip)
        switch opcode {
        case 8, 9, 10:
            if rsv1 || rsv23 { anomaly(d, "websocket.rsv_without_extension", emit) }
            if !fin { anomaly(d, "websocket.control_fragmented", emit) }
            if length > UInt64(min(limits.maxControlPayload, 125)) {
                anomaly(d, "websocket.control_too_large", emit)
            } else {
                frame.role = .control
                side.control.removeAll(keepingCapacity: true)
            }
        case 0, 1, 2:
            frame.role = startDataFrame(side, opcode: opcode, rsv1: rsv1, rsv23: rsv23, length: length, emit)
        default:
            anomaly(d, "websocket.bad_opcode", emit)
        }
        side.frame = frame
        side.state = .payload
        if length == 0 { finishFrame(side, emit) }
    }

    /// Message bookkeeping for a data frame's header; returns the payload's role.
    private func startDataFrame(_ side: Side, opcode: UInt8, rsv1: Bool, rsv23: Bool, length: UInt64,
                                _ emit: (WebSocketOutput) -> Void) -> Frame.Role {
        let d = side.direction
        if side.closed { anomaly(d, "websocket.data_after_close", emit) }
        if rsv23 { anomaly(d, "websocket.rsv_without_extension", emit) }
        if opcode == 0 {
            guard side.message.open else {
                anomaly(d, "websocket.unexpected_continuation", emit)
                return .skip
            }
            // RFC 7692 6.1: only the first frame of a message carries the "compressed" bit.
            if rsv1 { anomaly(d, "websocket.rsv1_on_continuation", emit) }
        } else {
            if side.message.open {
                anomaly(d, "websocket.unfinished_message", emit)
                abandonMessage(side, emit)
            }
            side.message = Message()
            side.message.open = true
            side.message.kind = opcode == 1 ? .text : .binary
            if rsv1 && !deflate.enabled {
                // A compliant peer fails the connection; the payload would be compressed bytes.
                anomaly(d, "websocket.rsv_without_extension", emit)
                side.message.dropped = true
            } else if rsv1 {
                side.message.compressed = true
                beginCompressedMessage(side, emit)
            }
        }
        if length > UInt64(limits.maxFrameBytes) {
            anomaly(d, "websocket.frame_too_large", emit)
            dropMessage(side, emit)
        } else if !side.message.dropped && !side.message.compressed
                    && UInt64(side.message.bytes.count) + length > UInt64(limits.maxMessageBytes) {
            anomaly(d, "websocket.message_too_large", emit)
            dropMessage(side, emit)
        }
        // No capacity is reserved from the declared length: a 10-byte header must not make an
        // idle flow hold megabytes; the buffer grows only with bytes that actually arrive.
        return .message
    }

    /// Payload bytes of the current frame (never more than it has left).
    private func payload(_ side: Side, _ bytes: UnsafeRawBufferPointer, _ emit: (WebSocketOutput) -> Void) {
        let f = side.frame
        switch f.role {
        case .skip:
            return
        case .control:
            let start = side.control.count
            side.control.append(contentsOf: bytes)
            if f.masked {
                side.control.withUnsafeMutableBytes {
                    WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: $0[start...]), key: f.key, phase: f.phase)
                }
            }
        case .message:
            if side.message.dropped { return }
            if !side.message.compressed {
                let start = side.message.bytes.count
                side.message.bytes.append(contentsOf: bytes)
                if f.masked {
                    side.message.bytes.withUnsafeMutableBytes {
                        WebSocketMasking.unmask(UnsafeMutableRawBufferPointer(rebasing: $0[start...]), key: f.key, phase: f.phase)
                    }
                }
            } else if f.masked {
                side.message.compressedBytes += bytes.count
                // Unmask through a bounded scratch buffer, whatever size the caller feeds.
                var done = 0
                while done < bytes.count && !side.message.dropped {
                    let n = min(Self.scratchSize, bytes.count - done)
                    scratch.removeAll(keepingCapacity: true)
                    scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[done..<(done + n)]))
                    scratch.withUnsafeMutableBytes { WebSocketMasking.unmask($0, key: f.key, phase: (f.phase + done) & 3) }
                    let chunk = scratch
                    chunk.withUnsafeBytes { inflate(side, $0, emit) }
                    done += n
                }
            } else {
                side.message.compressedBytes += bytes.count
                inflate(side, bytes, emit)
            }
        }
    }

    /// The current frame's payload is complete.
    private func finishFrame(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        let d = side.direction
        let f = side.frame
        side.state = .header
        switch f.role {
        case .skip:
            break
        case .control:
            let payload = side.control
            side.control.removeAll(keepingCapacity: true)
            switch f.opcode {
            case 8:
                var code: Int?
                var reason = ""
                if payload.count == 1 {
                    anomaly(d, "websocket.bad_close_payload", emit)
                } else if payload.count >= 2 {
                    let c = Int(payload[0]) << 8 | Int(payload[1])
                    code = c
                    if !Self.isSendableCloseCode(c) { anomaly(d, "websocket.bad_close_code", emit) }
                    let raw = payload[2...]
                    if !raw.withUnsafeBytes({ WebSocketUTF8.isValid($0) }) { anomaly(d, "websocket.invalid_utf8", emit) }
                    // Invalid sequences become U+FFFD: the reason is for humans and logs.
                    reason = String(decoding: raw, as: UTF8.self)
                }
                // A message still open is abandoned by its sender (RFC 6455 5.5.1).
                if side.message.open {
                    counters.add("websocket.message_abandoned")
                    abandonMessage(side, emit)
                }
                side.closed = true
                emit(.close(d, code: code, reason: reason))
            case 9:
                emit(.ping(d, payload))
            default:
                emit(.pong(d, payload))
            }
        case .message:
            if f.fin { finishMessage(side, emit) }
        }
    }

    /// The last frame of a message is complete: inflate its tail and emit it.
    private func finishMessage(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        let d = side.direction
        // No payload at all: the tail alone would open a stored block that never completes and
        // swallow the next message, so it is appended only after compressed bytes.
        if side.message.compressed && !side.message.dropped && !side.streamEnded && side.message.compressedBytes > 0 {
            Self.deflateTail.withUnsafeBytes { inflate(side, $0, emit) }
        }
        let m = side.message
        side.message = Message()
        guard !m.dropped else { return }
        // Still emitted: the receiver may process it anyway, and detection wants to see it.
        if m.kind == .text && !WebSocketUTF8.isValid(m.bytes) { anomaly(d, "websocket.invalid_utf8", emit) }
        emit(.message(d, m.kind, m.bytes))
    }

    /// RFC 6455 7.4: codes an endpoint may put on the wire (1004-1006 and 1015 are reserved for
    /// local use, below 1000 and 1016-2999 are unassigned or reserved for the IETF).
    private static func isSendableCloseCode(_ c: Int) -> Bool {
        switch c {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    // MARK: - Damage

    /// A gap hit the current frame's payload.
    private func damageFrame(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        switch side.frame.role {
        case .skip:
            break
        case .control:
            counters.add("websocket.control_damaged")
            side.frame.role = .skip
        case .message:
            if !side.message.dropped {
                counters.add("websocket.message_damaged")
                dropMessage(side, emit)
            }
        }
    }

    /// The open message will not be emitted; its remaining frames are consumed by count. A
    /// compressed message cut short leaves the inflater out of step with the sender.
    private func dropMessage(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        if side.message.compressed && !side.message.dropped { loseContext(side, emit) }
        side.message.dropped = true
        side.message.bytes = []
    }

    /// An open message will never finish (a new message or a close frame started).
    private func abandonMessage(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        dropMessage(side, emit)
        side.message = Message()
    }

    /// A header was lost: stop parsing this direction (see the type's documentation).
    private func loseSync(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        anomaly(side.direction, "websocket.gap_in_header", emit)
        side.state = .dead
        side.header.removeAll()
        side.message = Message()
        side.control = []
    }

    // MARK: - permessage-deflate

    /// Prepares the direction's inflater for a message whose first frame has RSV1 set.
    private func beginCompressedMessage(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        if side.contextLost {
            counters.add("websocket.message_undecodable")
            side.message.dropped = true
            return
        }
        let inflater: Inflater
        if let existing = side.inflater {
            inflater = existing
        } else {
            inflater = Inflater(format: .raw, maxOutput: limits.maxDecompressedBytes,
                                maxRatio: limits.maxDecompressionRatio, names: Self.inflateNames)
            side.inflater = inflater
        }
        if deflate.noContextTakeover(side.direction) {
            inflater.reset()
        } else if side.streamEnded && !inflater.restartKeepingWindow() {
            anomaly(side.direction, "websocket.deflate_error", emit)
            side.message.compressed = false  // nothing fed yet: no context is lost by this
            side.message.dropped = true
            loseContext(side, emit)
            return
        }
        side.streamEnded = false
        inflater.beginMessage()
    }

    private static let inflateNames = Inflater.FailureNames(
        error: "websocket.deflate_error", tooLarge: "websocket.decompression_bomb", ratio: "websocket.decompression_bomb")

    /// Inflates compressed payload bytes of the open message into it.
    private func inflate(_ side: Side, _ data: UnsafeRawBufferPointer, _ emit: (WebSocketOutput) -> Void) {
        guard let inflater = side.inflater, !side.streamEnded else { return }
        let maxMessage = limits.maxMessageBytes
        let outcome = inflater.inflate(data) { piece in
            if side.message.bytes.count + piece.count > maxMessage { return false }
            side.message.bytes.append(contentsOf: piece)
            return true
        }
        switch outcome {
        case .ok:
            break
        case .finished:
            // A final block ended the stream: the rest of this message (the appended tail
            // included) is ignored; the next message starts a new stream (RFC 7692 7.2.3.4).
            side.streamEnded = true
        case .stopped:
            anomaly(side.direction, "websocket.message_too_large", emit)
            dropMessage(side, emit)
        case .failed(let name):
            anomaly(side.direction, name, emit)
            dropMessage(side, emit)
        }
    }

    /// The inflater no longer matches the sender's compressor. With context takeover every later
    /// compressed message of this direction is undecodable: report it once, then drop them.
    private func loseContext(_ side: Side, _ emit: (WebSocketOutput) -> Void) {
        if deflate.noContextTakeover(side.direction) { return }  // the next message resets anyway
        if side.contextLost { return }
        side.contextLost = true
        side.inflater = nil
        anomaly(side.direction, "websocket.deflate_context_lost", emit)
    }

    /// Bytes held by this parser's buffers (capacity), for tests of the memory bounds; zlib's
    /// own state (about 44 KiB per compressed direction) is not included.
    public var bufferedBytes: Int {
        sides.reduce(scratch.capacity) { $0 + $1.header.capacity + $1.control.capacity + $1.message.bytes.capacity }
    }

    // MARK: - Reporting

    private func anomaly(_ d: Direction, _ name: String, _ emit: (WebSocketOutput) -> Void) {
        counters.add(name)
        emit(.anomaly(d, name))
    }

    private func flushPending(_ emit: (WebSocketOutput) -> Void) {
        guard !pendingAnomalies.isEmpty else { return }
        let names = pendingAnomalies
        pendingAnomalies = []
        for n in names { anomaly(.toClient, n, emit) }
    }

    // MARK: - State

    /// Parsing state of one direction. A class: each direction has an identity and is mutated
    /// in place from several helpers.
    private final class Side {
        let direction: Direction
        var state: State = .header
        /// A header cut across feeds (at most 14 bytes).
        var header: [UInt8] = []
        var frame = Frame(fin: false, opcode: 0, masked: false, key: 0, remaining: 0, phase: 0, role: .skip)
        var message = Message()
        var control: [UInt8] = []
        /// A close frame was seen: later data frames are anomalies.
        var closed = false
        var ended = false
        var inflater: Inflater?
        /// The inflater saw a final block; the next compressed message starts a new stream.
        var streamEnded = false
        /// The compression history is gone: compressed messages are no longer decodable.
        var contextLost = false

        init(direction: Direction) {
            self.direction = direction
            header.reserveCapacity(14)
        }
    }

    private enum State { case header, payload, dead }

    private struct Frame {
        enum Role {
            /// Consumed by count (invalid, oversized or damaged).
            case skip
            /// Buffered into `Side.control` (at most 125 bytes).
            case control
            /// Part of the open message.
            case message
        }
        var fin: Bool
        var opcode: UInt8
        var masked: Bool
        var key: UInt32
        var remaining: UInt64
        /// Payload offset modulo 4: which key byte the next payload byte uses.
        var phase: Int
        var role: Role
    }

    private struct Message {
        var open = false
        var kind: WebSocketMessageKind = .text
        var compressed = false
        /// Not emitted (damaged, too large, undecodable); frames still consumed by count.
        var dropped = false
        /// Compressed payload bytes seen so far.
        var compressedBytes = 0
        var bytes: [UInt8] = []
    }
}
