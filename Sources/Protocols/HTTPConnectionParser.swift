// HTTP/1.x on one TCP connection, both directions, as a push parser fed by reassembly.
import SonarCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Parses both directions of one HTTP/1.x connection: heads, bodies (Content-Length, chunked,
/// until close; gzip/deflate), SSE streams, pipelining and upgrades.
///
/// Bytes may arrive in any split; outputs depend only on the byte stream, never on how it was
/// cut. What the parser keeps is bounded by `HTTPLimits`: a head being read, a JSON body being
/// buffered, an SSE event being assembled, a chunk-size line, the queue of requests awaiting a
/// response. Bodies that are not JSON or SSE are skipped by count and never copied.
///
/// Policies (each breach is an `.anomaly` and a counter of the same name):
/// - Content-Length: several equal values (repeated fields or a list) are accepted with
///   "http.duplicate_content_length"; differing values ("http.conflicting_content_length") or an
///   invalid one ("http.bad_content_length") leave the framing unknown: the message is dropped
///   and the parser resynchronises on the next start line.
/// - Transfer-Encoding wins over Content-Length ("http.te_and_cl" when both are sent). A request
///   whose last transfer coding is not chunked cannot be framed ("http.bad_transfer_encoding",
///   resync); such a response is read until close.
/// - A response with no framing header is read until the connection closes; a request with none
///   has no body. HEAD responses and 1xx/204/304 have no body; 1xx other than 101 are interim.
/// - 101 and a 2xx answer to CONNECT end HTTP on the connection (`.upgrade`).
/// - A malformed start line ("http.bad_start_line"), an oversized head ("http.header_too_large")
///   or too many fields ("http.too_many_headers") start resynchronisation: bytes are skipped to
///   the next line that is a complete, plausible start line. Malformed field lines
///   ("http.bad_header_line") are dropped and the message kept.
/// - Gaps inside a body of known remaining length are consumed by count and the body is damaged
///   (a damaged JSON body is not delivered; an SSE stream drops the event in progress and goes on
///   from the next blank line). A gap that loses chunk framing starts a chunk resync: whole lines
///   are read until one is a chunk-size line (taken tentatively, confirmed by the CRLF after its
///   data: "http.chunk_resynced") or a start line (a new message). Any other gap resynchronises
///   on the next start line. Gaps are counted in "http.gap".
/// - End of stream completes a body delimited by close; an unfinished SSE event is discarded
///   (HTML standard); any other unfinished message is counted in "http.truncated_message".
///
/// Anomalies (each also a counter): http.bad_start_line, http.header_too_large,
/// http.too_many_headers, http.bad_header_line, http.duplicate_content_length,
/// http.conflicting_content_length, http.bad_content_length, http.te_and_cl,
/// http.bad_transfer_encoding, http.bad_chunk, http.body_too_large,
/// http.unsupported_content_encoding, http.decompression_error, http.decompressed_too_large,
/// http.decompression_ratio, http.truncated_compressed_body, http.too_many_pending_requests,
/// http.upgrade_hold_overflow, sse.event_too_large. Counters only: http.gap, http.resynced,
/// http.chunk_resynced, http.obs_fold, http.body_damaged, http.truncated_message, http.unsupported_transfer_coding.
///
/// One parser per connection, used from one thread; `emit` must not call back into it.
///
/// Open so that the engine's per-connection state can be this same object (a subclass) rather
/// than a second one pointing to it: every delivery then reads one object where it read two,
/// one after the other. Nothing here can be overridden from outside this module (no member is
/// `open`), so calls stay direct.
open class HTTPConnectionParser {
    // Declaration order is the layout. What every delivery reads and writes comes first, in the
    // object's first cache line with its header (which the engine's retain of the object has
    // just brought in): whether the stream is HTTP, which direction was touched, each
    // direction's state and what its buffers reserved. What a head, an exchange or an upgrade
    // needs follows. The limits are not here but shared (`SharedHTTPLimits`): 88 bytes that were
    // in every parser, ahead of all of these.

    /// nil until decided from the first start line seen (a request line to the server, or a
    /// status line to the client for a connection picked up mid-stream). false: not HTTP, the
    /// caller should stop feeding (any further input is ignored).
    public internal(set) var isHTTP: Bool? { get { storedIsHTTP } set { storedIsHTTP = newValue } }
    /// Asked by the engine several times a delivery, from another module, where an exclusivity
    /// attribute on a public stored field would not be seen: kept here, unchecked (each access a
    /// load or a store), behind the accessor.
    @exclusivity(unchecked) private var storedIsHTTP: Bool?
    /// True once a 101 or a CONNECT 2xx ended HTTP on this connection.
    public private(set) var isUpgraded = false
    /// Which directions this parser touched since `heldCapacity` last measured them (bit
    /// `Direction.index`): set on every input of a direction, and on the request side when a
    /// response's head settles what it held. Unchecked: a plain value, each access one load or store.
    @exclusivity(unchecked) private var touchedHalves: UInt8 = 0
    /// Whether a response's head is handed out (`HTTPOutput.responseHead`). The engine reads
    /// responses through their bodies and upgrades and turns this off: building and handing out
    /// a head nobody reads (its context copied and released) cost about 440 instructions.
    public let emitsResponseHeads: Bool

    // Each direction's state is made when that direction first sends: a connection that only
    // ever sends one way (a stalled client, one of a million idle ones) costs one.
    private var toServerHalf: Half?
    private var toClientHalf: Half?
    /// What each direction's buffers reserved when last measured (`heldCapacity`). Kept here, not
    /// in each `Half`: the budget's read after a delivery then touches only this object, not the
    /// other direction's (a cache miss each delivery). Unchecked: plain values, each access one
    /// load or store.
    @exclusivity(unchecked) private var measuredToServer = 0
    @exclusivity(unchecked) private var measuredToClient = 0

    /// Requests awaiting their final response, oldest first. Unchecked: every access is one
    /// standard-library operation (append, removeFirst, first, count).
    @exclusivity(unchecked) private var pending: [(index: Int, head: HTTPRequestHead)] = []
    private var nextExchangeIndex = 0
    private var undecidedBytes = 0
    private let shared: SharedHTTPLimits
    public private(set) var counters = Counters()
    private var afterUpgradeToServer: [UInt8] = []
    private var afterUpgradeToClient: [UInt8] = []

    /// The limits this parser works within (one copy for all the parsers made with the same
    /// `SharedHTTPLimits`).
    public var limits: HTTPLimits { shared.limits }

    public convenience init(limits: HTTPLimits = .init(), emitsResponseHeads: Bool = true) {
        self.init(shared: SharedHTTPLimits(limits), emitsResponseHeads: emitsResponseHeads)
    }

    /// A parser reading `shared`'s limits, which every connection of an engine shares.
    public init(shared: SharedHTTPLimits, emitsResponseHeads: Bool = true) {
        self.shared = shared
        self.emitsResponseHeads = emitsResponseHeads
    }

    private func half(_ direction: Direction) -> Half {
        switch direction {
        case .toServer:
            if let h = toServerHalf { return h }
            let h = Half(.toServer, limits)
            toServerHalf = h
            return h
        case .toClient:
            if let h = toClientHalf { return h }
            let h = Half(.toClient, limits)
            toClientHalf = h
            return h
        }
    }

    /// Bytes this parser holds right now (heads, buffered bodies, SSE events, held bytes,
    /// inflater state, approximately): for memory accounting in stats.
    public var bufferedBytes: Int {
        func held(_ h: Half?) -> Int {
            guard let h else { return 0 }
            return h.headBuf.count + h.body.count + h.lineBuf.count + h.held.count + h.sse.bufferedBytes
                + (h.inflater == nil ? 0 : Inflater.approximateFootprint)
        }
        return held(toServerHalf) + held(toClientHalf) + afterUpgradeToServer.count + afterUpgradeToClient.count
    }

    /// As `bufferedBytes`, counting what the buffers reserved (capacity): the memory they take,
    /// for the engine's budget of all connections' buffers.
    public var heldCapacity: Int {
        // Asked after every delivery (the engine's budget): no closure, no array. A direction
        // is measured again only when this parser touched it since (`touchedHalves`): reading
        // the capacities of the other direction's buffers cost a cache miss each, every delivery.
        func reserved(_ h: Half?) -> Int {
            guard let h else { return 0 }
            return h.headBuf.capacity + h.body.capacity + h.lineBuf.capacity + h.held.capacity + h.sse.heldCapacity
                + (h.inflater == nil ? 0 : Inflater.approximateFootprint)
        }
        if touchedHalves != 0 {
            if touchedHalves & 1 != 0 { measuredToServer = reserved(toServerHalf) }
            if touchedHalves & 2 != 0 { measuredToClient = reserved(toClientHalf) }
            touchedHalves = 0
        }
        return measuredToServer + measuredToClient + afterUpgradeToServer.capacity + afterUpgradeToClient.capacity
    }

    /// `direction`'s buffers may have changed: measured again at the next `heldCapacity`.
    @inline(__always) private func touched(_ direction: Direction) { touchedHalves |= 1 << direction.index }

    /// After `.upgrade`: the bytes of that direction that followed the HTTP message which ended
    /// HTTP and that this parser had already been given (the first WebSocket frames, say). The
    /// caller hands them to the next protocol parser before any later bytes.
    public func bytesAfterUpgrade(_ direction: Direction) -> [UInt8] {
        direction == .toServer ? afterUpgradeToServer : afterUpgradeToClient
    }

    // MARK: - Input

    /// Parses the next bytes of `direction`, calling `emit` for everything that completed.
    public func feed(_ bytes: UnsafeRawBufferPointer, direction: Direction, emit: (HTTPOutput) -> Void) {
        if isHTTP == false || bytes.isEmpty { return }
        if isHTTP == nil {
            // Cut exactly at the bound so the decision never depends on how input was split.
            let allowed = max(0, limits.maxUndecidedBytes - undecidedBytes)
            if bytes.count > allowed {
                undecidedBytes += allowed
                parse(UnsafeRawBufferPointer(rebasing: bytes.prefix(allowed)), direction, emit)
                if isHTTP == nil { isHTTP = false; return }
                parse(UnsafeRawBufferPointer(rebasing: bytes.dropFirst(allowed)), direction, emit)
                return
            }
            undecidedBytes += bytes.count
        }
        parse(bytes, direction, emit)
    }

    private func parse(_ bytes: UnsafeRawBufferPointer, _ direction: Direction, _ emit: (HTTPOutput) -> Void) {
        let h = half(direction)
        touched(direction)
        var i = 0
        let n = bytes.count
        while i < n {
            if isHTTP == false { return }
            switch h.state {
            case .stopped:
                return
            case .holding:
                hold(h, UnsafeRawBufferPointer(rebasing: bytes[i..<n]), emit)
                return
            case .head:
                i = parseHead(h, bytes, i, emit)
            case .body:
                i = parseBody(h, bytes, i, emit)
            }
        }
    }

    /// `length` bytes of `direction` were lost (reassembly gap).
    public func gap(_ length: Int, direction: Direction, emit: (HTTPOutput) -> Void) {
        counters.add("http.gap")
        if isHTTP == false || length <= 0 { return }
        let h = half(direction)
        touched(direction)
        switch h.state {
        case .stopped:
            return
        case .holding:
            // The bytes after an upgrade request are unknown now; wait for a start line.
            h.held = []
            h.state = .head
            resync(h, emit, anomaly: nil, atLineStart: false)
        case .head:
            resync(h, emit, anomaly: nil, atLineStart: false)
        case .body:
            switch h.mode {
            case .length(let rem) where length <= rem:
                damage(h)
                h.mode = .length(rem - length)
                if rem == length { finishMessage(h, emit) }
            case .chunkData(let rem) where length <= rem:
                damage(h)
                h.mode = rem == length ? .chunkDataEnd : .chunkData(rem - length)
            case .untilClose:
                damage(h)
            case .chunkData, .chunkSize, .chunkDataEnd, .chunkResync:
                // Chunk framing lost: look for the next chunk-size line rather than give up on
                // the body, so a long-lived SSE stream survives a lost segment.
                damage(h)
                h.lineBuf.removeAll(keepingCapacity: true)
                h.chunkTentative = false
                h.resyncSkipLine = false
                h.mode = .chunkResync
            default:
                if h.sink == .json || h.sink == .sniff { counters.add("http.body_damaged") }
                resync(h, emit, anomaly: nil, atLineStart: false)
            }
        }
    }

    /// The direction ended (FIN, RST or timeout). A body delimited by close is complete now; an
    /// unfinished SSE event is discarded, as the HTML standard says.
    public func end(direction: Direction, emit: (HTTPOutput) -> Void) {
        if isHTTP == false { return }
        let h = half(direction)
        touched(direction)
        switch h.state {
        case .stopped:
            return
        case .holding:
            h.held = []
        case .head:
            if !h.headBuf.isEmpty { counters.add("http.truncated_message") }
        case .body:
            if case .untilClose = h.mode {
                finishMessage(h, emit)
            } else {
                counters.add("http.truncated_message")
            }
        }
        abandonBody(h)
        resetHead(h)
        h.resyncing = false
        h.scanning = false
        h.state = .head
    }

    // MARK: - Heads

    private func parseHead(_ h: Half, _ bytes: UnsafeRawBufferPointer, _ start: Int, _ emit: (HTTPOutput) -> Void) -> Int {
        let n = bytes.count
        var i = start
        if h.scanning {
            // Resynchronising: a start line may begin at a line start, at any 'H' (status line:
            // a response often follows a body without a line end) or, for requests, at an
            // uppercase letter after a non-token byte. The validator then decides.
            let isRequest = h.direction == .toServer
            var prev = h.scanPrev
            var j = i
            while j < n {
                let b = bytes[j]
                if isRequest {
                    if prev == 10 ? isTokenChar(b) : (b >= 65 && b <= 90 && !isTokenChar(prev)) { break }
                } else if b == 72 {
                    break
                }
                prev = b
                j += 1
            }
            h.scanPrev = prev
            if j == n { return n }
            h.scanning = false
            h.validator.requireKnownMethod = prev != 10
            i = j
        }
        if h.headBuf.isEmpty {
            // Empty lines before a start line are tolerated (RFC 9112 2.2).
            while i < n && (bytes[i] == 10 || bytes[i] == 13) { i += 1 }
            if i == n { return n }
            if let next = wholeHead(h, bytes, from: i, emit) { return next }
        }
        if h.headLines == 0 {
            let lf = findByte(10, bytes, from: i)
            let end = lf ?? n
            // Only validate what fits, so the verdict never depends on how the input was cut.
            let room = max(0, limits.maxHeaderBytes - 1 - h.headBuf.count)
            let seg = UnsafeRawBufferPointer(rebasing: bytes[i..<end])
            if let bad = h.validator.feed(UnsafeRawBufferPointer(rebasing: seg.prefix(room))) {
                // Not a start line. Look again from the offending byte (or the one after it
                // when it was the candidate's first byte).
                let failAt = i + bad
                if h.headBuf.isEmpty && bad == 0 {
                    badStartLine(h, emit, prev: bytes[failAt])
                    return failAt + 1
                }
                badStartLine(h, emit, prev: failAt > i ? bytes[failAt - 1] : (h.headBuf.last ?? 10))
                return failAt
            }
            if seg.count > room {
                if isHTTP == nil { isHTTP = false; return n }
                resync(h, emit, anomaly: "http.header_too_large", atLineStart: false)
                return i + room
            }
            if h.headBuf.isEmpty {
                // The buffer is released after each head (`resetHead`): reserved once for the
                // rest of this delivery (where a head usually ends), not doubled line by line
                // (five or six reallocations a head).
                h.headBuf.reserveCapacity(min(n - i, limits.maxHeaderBytes))
            }
            h.headBuf.append(contentsOf: seg)
            guard let lf else { return n }
            if !h.validator.finish() {
                badStartLine(h, emit, prev: 10)
                return lf + 1
            }
            h.headBuf.append(10)
            h.headLines = 1
            h.lineStart = h.headBuf.count
            if isHTTP == nil { isHTTP = true }
            if h.resyncing { counters.add("http.resynced") }
            i = lf + 1
        }
        while i < n {
            let lf = findByte(10, bytes, from: i)
            let end = lf.map { $0 + 1 } ?? n
            let room = limits.maxHeaderBytes - h.headBuf.count
            if end - i > room {
                // Resume scanning exactly at the first byte over the limit, however the input was cut.
                resync(h, emit, anomaly: "http.header_too_large", atLineStart: false)
                return i + max(0, room)
            }
            h.headBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<end]))
            guard let lf else { return n }
            let lineLen = h.headBuf.count - 1 - h.lineStart
            if lineLen == 0 || (lineLen == 1 && h.headBuf[h.lineStart] == 13) {
                return completeHead(h, bytes, lf + 1, emit)
            }
            h.headLines += 1
            if h.headLines - 1 > limits.maxHeaders {
                resync(h, emit, anomaly: "http.too_many_headers", atLineStart: true)
                return lf + 1
            }
            h.lineStart = h.headBuf.count
            i = lf + 1
        }
        return n
    }

    /// The common case: a whole head in this delivery, from a start line the validator passes,
    /// within the limits. Copied into the head's buffer at once instead of line by line (a call
    /// and a capacity check a line, and a buffer reserved for the rest of the delivery that the
    /// fields then copied to its size) and completed. Nil, with nothing changed, otherwise: the
    /// line-by-line path below then reads the same bytes and reaches the same verdicts.
    private func wholeHead(_ h: Half, _ bytes: UnsafeRawBufferPointer, from start: Int,
                           _ emit: (HTTPOutput) -> Void) -> Int? {
        // Looked for within the head's limit only: on a delivery of long lines without a blank
        // one, every resync would otherwise scan the rest of it again.
        let room = bytes.count - start
        let limit = limits.maxHeaderBytes < room ? start + max(0, limits.maxHeaderBytes) : bytes.count
        let window = UnsafeRawBufferPointer(rebasing: bytes[..<limit])
        guard let firstLF = findByte(10, window, from: start) else { return nil }
        var fields = 0
        var lineStart = firstLF + 1
        var end: Int?
        while let lf = findByte(10, window, from: lineStart) {
            let length = lf - lineStart
            if length == 0 || (length == 1 && bytes[lineStart] == 13) { end = lf + 1; break }
            fields += 1
            if fields > limits.maxHeaders { return nil }
            lineStart = lf + 1
        }
        guard let end else { return nil }
        let line = UnsafeRawBufferPointer(rebasing: bytes[start..<firstLF])
        if h.validator.isFresh {
            // Left as it is: the head's reset follows.
            guard h.validator.acceptsWhole(line) else { return nil }
        } else {
            var validator = h.validator
            guard validator.feed(line) == nil, validator.finish() else { return nil }
            h.validator = validator
        }
        if isHTTP == nil { isHTTP = true }
        if h.resyncing { counters.add("http.resynced") }
        h.headBuf.reserveCapacity(end - start)
        h.headBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        return completeHead(h, bytes, end, emit)
    }

    /// A candidate start line failed; scanning goes on after a byte whose value was `prev`.
    private func badStartLine(_ h: Half, _ emit: (HTTPOutput) -> Void, prev: UInt8) {
        // The first line decides quickly (TLS, SSH, raw JSON are bypassed at once), unless a gap
        // came first: then the stream was joined mid-message and scanning goes on (bounded in feed).
        if isHTTP == nil && !h.resyncing {
            isHTTP = false
            return
        }
        // While resynchronising, failed candidates are expected: skip silently.
        resync(h, emit, anomaly: h.resyncing ? nil : "http.bad_start_line", atLineStart: false)
        h.scanPrev = prev
    }

    /// A whole head is in `headBuf`; `next` is the index in `bytes` after its blank line.
    private func completeHead(_ h: Half, _ bytes: UnsafeRawBufferPointer, _ next: Int, _ emit: (HTTPOutput) -> Void) -> Int {
        let (startLine, headers) = parseHeadBuffer(h, emit)
        resetHead(h)
        h.resyncing = false
        switch startLine {
        case .request(let method, let target, let versionMinor):
            requestHead(h, HTTPRequestHead(method: method, target: target, versionMinor: versionMinor, headers: headers), emit)
        case .response(let status, let reason, let versionMinor):
            responseHead(h, HTTPResponseHead(status: status, reason: reason, versionMinor: versionMinor, headers: headers),
                         bytes, next, emit)
        case .bad:
            resync(h, emit, anomaly: "http.bad_start_line", atLineStart: true)
        }
        return next
    }

    /// A head's start line, split (validated already by `StartLineValidator`).
    private enum StartLine {
        case request(method: String, target: String, versionMinor: Int)
        case response(status: Int, reason: String, versionMinor: Int)
        case bad
    }

    /// METHOD SP target SP HTTP/1.d
    private static func requestLine(_ line: UnsafeRawBufferPointer) -> StartLine {
        guard let sp1 = line.firstIndex(of: 32), let sp2 = line.lastIndex(of: 32), sp2 > sp1,
              line.count >= sp2 + 9 else { return .bad }
        return .request(method: String(decoding: line[..<sp1], as: UTF8.self),
                        target: String(decoding: line[(sp1 + 1)..<sp2], as: UTF8.self),
                        versionMinor: Int(line[sp2 + 8]) - 48)
    }

    /// HTTP/1.d SP ddd [SP reason]
    private static func statusLine(_ line: UnsafeRawBufferPointer) -> StartLine {
        guard line.count >= 12 else { return .bad }
        let status = (Int(line[9]) - 48) * 100 + (Int(line[10]) - 48) * 10 + (Int(line[11]) - 48)
        let reason = line.count > 13 ? String(decoding: line[13...], as: UTF8.self) : ""
        return .response(status: status, reason: reason, versionMinor: Int(line[7]) - 48)
    }

    /// Splits the buffered head into its start line and fields (obs-fold joined with one SP).
    /// The fields keep the head's buffer and the place of each name and value in it: no String
    /// is made for a field until someone asks for its value.
    private func parseHeadBuffer(_ h: Half, _ emit: (HTTPOutput) -> Void) -> (StartLine, HTTPHeaders) {
        var spans: [HTTPHeaders.Span] = []
        spans.reserveCapacity(16) // grown one by one it was reallocated four times a head
        var startLine = StartLine.bad
        // obs-fold continuations (rare): the field they continue and where their text is.
        var folds: [(field: Int, start: Int, end: Int)] = []
        // Reported after the read of `headBuf`, so that no code outside this parser runs
        // while the buffer is being read (see `Half`).
        var badLines = 0
        defer { for _ in 0..<badLines { anomaly(h.direction, "http.bad_header_line", emit) } }
        let isRequest = h.direction == .toServer
        h.headBuf.withUnsafeBytes { buf in
            var i = 0
            var first = true
            while i < buf.count {
                let lf = findByte(10, buf, from: i) ?? buf.count
                var e = lf
                if e > i && buf[e - 1] == 13 { e -= 1 }
                let lineStart = i
                i = lf + 1
                if first {
                    let line = UnsafeRawBufferPointer(rebasing: buf[lineStart..<e])
                    startLine = isRequest ? Self.requestLine(line) : Self.statusLine(line)
                    first = false
                    continue
                }
                if e == lineStart { break }
                var (vs, ve) = (lineStart, e)
                if buf[lineStart] == 32 || buf[lineStart] == 9 {
                    // obs-fold: a continuation of the previous field's value.
                    trimOWS(buf, &vs, &ve)
                    if spans.isEmpty {
                        badLines += 1
                    } else {
                        counters.add("http.obs_fold")
                        if vs < ve { folds.append((spans.count - 1, vs, ve)) }
                    }
                    continue
                }
                // The name: token characters up to the colon, read in one pass; eight bytes at a
                // time while they are letters, digits and '-' (every common name), the rest of
                // the tchar set byte by byte.
                var colon = lineStart
                if let raw = buf.baseAddress {
                    while colon &+ 8 <= e {
                        let w = ByteLanes.load(raw, colon)
                        let simple = ByteLanes.simpleTokenChars(w)
                        if simple == 0x8080_8080_8080_8080 { colon &+= 8; continue }
                        // Up to the first byte that is not one.
                        colon &+= ByteLanes.first(~simple & 0x8080_8080_8080_8080)
                        break
                    }
                }
                while colon < e, isTokenChar(buf[colon]) { colon += 1 }
                if colon == e || colon == lineStart || buf[colon] != 58 {
                    badLines += 1
                    continue
                }
                vs = colon + 1
                trimOWS(buf, &vs, &ve)
                spans.append(HTTPHeaders.Span(nameStart: UInt32(lineStart), nameEnd: UInt32(colon),
                                              valueStart: UInt32(vs), valueEnd: UInt32(ve)))
            }
        }
        // The head's buffer is released after each head (`resetHead`): kept by the fields when
        // it holds little more than the head, copied to its size when a large delivery was
        // reserved for it (a waiting request's head must not hold the delivery's reserve).
        var storage = h.headBuf.capacity - h.headBuf.count <= 1024 ? h.headBuf : h.headBuf.withUnsafeBytes { Array($0) }
        if !folds.isEmpty {
            // Each folded value is joined at the end of the buffer and its field pointed there.
            var k = 0
            while k < folds.count {
                let field = folds[k].field
                let joinedStart = storage.count
                let s = spans[field]
                storage.append(contentsOf: storage[Int(s.valueStart)..<Int(s.valueEnd)])
                while k < folds.count && folds[k].field == field {
                    if storage.count > joinedStart { storage.append(32) }
                    storage.append(contentsOf: storage[folds[k].start..<folds[k].end])
                    k += 1
                }
                spans[field].valueStart = UInt32(joinedStart)
                spans[field].valueEnd = UInt32(storage.count)
            }
        }
        return (startLine, HTTPHeaders(bytes: storage, spans: spans))
    }

    private func requestHead(_ h: Half, _ head: HTTPRequestHead, _ emit: (HTTPOutput) -> Void) {
        let headers = head.headers
        let ctx = HTTPMessageContext(exchangeIndex: nextExchangeIndex, request: head, response: nil)
        nextExchangeIndex += 1
        if pending.count >= limits.maxPendingRequests {
            pending.removeFirst()
            anomaly(.toServer, "http.too_many_pending_requests", emit)
        }
        pending.append((ctx.exchangeIndex, head))
        emit(.requestHead(ctx))

        // The bytes after an Upgrade or CONNECT request are not HTTP if the server agrees:
        // hold them until its answer.
        let fields = BodyFields(headers)
        h.holdAfterMessage = head.method == "CONNECT" || fields.upgrade
        h.holdIndex = ctx.exchangeIndex

        guard let framing = framing(h, headers, fields, isRequest: true, emit) else { return }
        startBody(h, framing, consume ctx, headers, fields, emit)
    }

    private func responseHead(_ h: Half, _ head: HTTPResponseHead,
                              _ bytes: UnsafeRawBufferPointer, _ next: Int, _ emit: (HTTPOutput) -> Void) {
        let status = head.status, headers = head.headers
        if status >= 100 && status < 200 && status != 101 {
            // Interim: the request still waits for its final response.
            guard emitsResponseHeads else { return }
            let ctx = HTTPMessageContext(exchangeIndex: pending.first?.index ?? nextExchangeIndex,
                                         request: pending.first?.head, response: head)
            emit(.responseHead(ctx))
            return
        }
        // Nearly always the one request waiting: taken from the end, not shifted out of the
        // front (a copy of the pair and a subrange replacement an exchange).
        let req: (index: Int, head: HTTPRequestHead)? = pending.count <= 1 ? pending.popLast() : pending.removeFirst()
        let index: Int
        if let req {
            index = req.index
        } else {
            index = nextExchangeIndex
            nextExchangeIndex += 1
        }
        let ctx = HTTPMessageContext(exchangeIndex: index, request: req?.head, response: head)
        if emitsResponseHeads { emit(.responseHead(ctx)) }

        let requestSide = half(.toServer)
        touched(.toServer) // the answer may release or drop what the request side held
        if status == 101 || (req?.head.method == "CONNECT" && status >= 200 && status < 300) {
            isUpgraded = true
            afterUpgradeToClient = Array(UnsafeRawBufferPointer(rebasing: bytes[next...]))
            afterUpgradeToServer = requestSide.held
            requestSide.held = []
            requestSide.state = .stopped
            abandonBody(requestSide)
            h.state = .stopped
            emit(.upgrade(ctx))
            return
        }

        let noBody = req?.head.method == "HEAD" || status == 204 || status == 304
        if noBody {
            finishMessage(h, emit)
        } else {
            let fields = BodyFields(headers)
            if let framing = framing(h, headers, fields, isRequest: false, emit) {
                startBody(h, framing, consume ctx, headers, fields, emit)
            }
        }
        // The server said no to the upgrade: what the client sent meanwhile is HTTP again.
        if index >= requestSide.holdIndex { releaseHold(requestSide, emit) }
    }

    private enum Framing { case noBody, length(Int), chunked, untilClose }

    /// What framing, the body's sink and an upgrade read of a head, found in one walk over its
    /// fields instead of one walk per question (six a head). Made by `init(_ headers:)`, in the
    /// extension at the end of this file (so that the memberwise initializer exists).
    fileprivate struct BodyFields {
        var transferEncodings = 0
        var contentLengths = 0
        /// The first Transfer-Encoding is exactly `chunked`.
        var chunked = false
        /// The first Content-Length when it is 1 to 18 ASCII digits.
        var length: Int?
        var contentType: String?
        var contentEncoding = false
        var upgrade = false
    }

    /// Whether a field name is `lower` (given in lowercase) in any ASCII case.
    private static func nameIs(_ name: UnsafeRawBufferPointer, _ lower: StaticString) -> Bool {
        guard name.count == lower.utf8CodeUnitCount else { return false }
        let l = lower.utf8Start
        for i in 0..<name.count where lowerASCII(name[i]) != l[i] { return false }
        return true
    }

    /// Works out how the body is delimited; nil when it cannot be (the parser resyncs).
    private func framing(_ h: Half, _ headers: HTTPHeaders, _ fields: BodyFields, isRequest: Bool,
                         _ emit: (HTTPOutput) -> Void) -> Framing? {
        // The common heads, decided without splitting or an array of values: one Content-Length
        // of plain digits, or `Transfer-Encoding: chunked` alone. Anything else takes the
        // general path below.
        if fields.transferEncodings == 0, fields.contentLengths == 1, let length = fields.length {
            return .length(length)
        }
        if fields.transferEncodings == 1, fields.chunked {
            if fields.contentLengths > 0 { anomaly(h.direction, "http.te_and_cl", emit) }
            return .chunked
        }
        let te = headers.values("transfer-encoding")
        let cl = headers.values("content-length")
        if !te.isEmpty {
            if !cl.isEmpty { anomaly(h.direction, "http.te_and_cl", emit) }
            let codings = te.flatMap { $0.split(separator: ",") }
                .map { $0.trimmingSpaces().lowercased() }
                .filter { !$0.isEmpty }
            let chunkedCount = codings.filter { $0 == "chunked" }.count
            if codings.last == "chunked" && chunkedCount == 1 {
                if codings.contains(where: { $0 != "chunked" && $0 != "identity" }) {
                    // A transfer coding under chunked (gzip in TE) is not decoded: skip the body.
                    h.transferCoded = true
                    counters.add("http.unsupported_transfer_coding")
                }
                return .chunked
            }
            if isRequest {
                resync(h, emit, anomaly: "http.bad_transfer_encoding", atLineStart: true)
                return nil
            }
            if chunkedCount > 0 { anomaly(h.direction, "http.bad_transfer_encoding", emit) }
            if codings.contains(where: { $0 != "chunked" && $0 != "identity" }) {
                h.transferCoded = true
                counters.add("http.unsupported_transfer_coding")
            }
            return .untilClose
        }
        if !cl.isEmpty {
            var value: Int?
            var count = 0
            for item in cl.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
                let t = item.trimmingSpaces()
                count += 1
                guard let v = Self.plainDigits(t) else {
                    resync(h, emit, anomaly: "http.bad_content_length", atLineStart: true)
                    return nil
                }
                if let value, value != v {
                    resync(h, emit, anomaly: "http.conflicting_content_length", atLineStart: true)
                    return nil
                }
                value = v
            }
            if count > 1 { anomaly(h.direction, "http.duplicate_content_length", emit) }
            return .length(value ?? 0)
        }
        return isRequest ? .noBody : .untilClose
    }

    /// The value of 1 to 18 ASCII digits, else nil.
    private static func plainDigits(_ b: UnsafeRawBufferPointer) -> Int? {
        guard !b.isEmpty, b.count <= 18 else { return nil }
        var v = 0
        for x in b {
            guard x >= 48 && x <= 57 else { return nil }
            v = v * 10 + Int(x - 48)
        }
        return v
    }

    private static func plainDigits(_ s: some StringProtocol) -> Int? {
        String(s).withUTF8Bytes { plainDigits(UnsafeRawBufferPointer($0)) }
    }

    // MARK: - Bodies

    /// `ctx` is consumed into the half (each head's context was copied once more there).
    private func startBody(_ h: Half, _ framing: Framing, _ ctx: consuming HTTPMessageContext, _ headers: HTTPHeaders,
                           _ fields: BodyFields, _ emit: (HTTPOutput) -> Void) {
        h.context = consume ctx
        h.damaged = false
        h.body = []
        switch framing {
        case .noBody, .length(0):
            finishMessage(h, emit)
            return
        case .length(let n): h.mode = .length(n)
        case .chunked: h.mode = .chunkSize
        case .untilClose: h.mode = .untilClose
        }
        h.state = .body

        let contentType = fields.contentType
        if let ct = contentType {
            if h.direction == .toClient && asciiContainsLowercased(ct, "text/event-stream") {
                h.sink = .sse
                h.sse = SSEParser(maxEventBytes: limits.maxSSEEventBytes)
            } else if asciiContainsLowercased(ct, "json") {
                h.sink = .json
            } else {
                h.sink = .skip
            }
        } else {
            h.sink = .sniff
        }
        if h.transferCoded { h.sink = .skip }
        if h.sink == .skip || !fields.contentEncoding { return }

        let codings = headers.values("content-encoding").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpaces().lowercased() }
            .filter { !$0.isEmpty && $0 != "identity" }
        if codings.isEmpty { return }
        if codings == ["gzip"] || codings == ["x-gzip"] {
            h.inflater = Inflater(format: .gzip, maxOutput: limits.maxDecompressedBytes, maxRatio: limits.maxDecompressionRatio)
        } else if codings == ["deflate"] {
            h.inflater = Inflater(format: .deflate, maxOutput: limits.maxDecompressedBytes, maxRatio: limits.maxDecompressionRatio)
        } else {
            anomaly(h.direction, "http.unsupported_content_encoding", emit)
            h.sink = .skip
        }
    }

    private func parseBody(_ h: Half, _ bytes: UnsafeRawBufferPointer, _ start: Int, _ emit: (HTTPOutput) -> Void) -> Int {
        let n = bytes.count
        switch h.mode {
        case .length(let rem):
            let take = min(rem, n - start)
            deliver(h, UnsafeRawBufferPointer(rebasing: bytes[start..<(start + take)]), emit)
            h.mode = .length(rem - take)
            if rem == take { finishMessage(h, emit) }
            return start + take
        case .untilClose:
            deliver(h, UnsafeRawBufferPointer(rebasing: bytes[start..<n]), emit)
            return n
        case .chunkData(let rem):
            let take = min(rem, n - start)
            deliver(h, UnsafeRawBufferPointer(rebasing: bytes[start..<(start + take)]), emit)
            h.mode = rem == take ? .chunkDataEnd : .chunkData(rem - take)
            return start + take
        case .chunkSize:
            var read: Int?? = nil // nil: no line (the parser resynced); .some(nil): not a size
            guard let next = readLine(h, bytes, start, limit: limits.maxChunkLineBytes, tooLong: "http.bad_chunk", emit,
                                      { read = .some(self.parseChunkSize($0)) }) else { return n }
            guard let parsed = read else { return next }
            guard let size = parsed else {
                resync(h, emit, anomaly: "http.bad_chunk", atLineStart: true)
                return next
            }
            h.mode = size == 0 ? .trailers : .chunkData(size)
            h.trailerBytes = 0
            return next
        case .chunkDataEnd where h.chunkTentative:
            let b = bytes[start]
            if b == 13 && h.lineBuf.isEmpty {
                h.lineBuf.append(13)
                return start + 1
            }
            h.lineBuf.removeAll(keepingCapacity: true)
            if b == 10 {
                // The resynced chunk is confirmed by its CRLF.
                counters.add("http.chunk_resynced")
                h.chunkTentative = false
                h.mode = .chunkSize
                return start + 1
            }
            // The size line found by resync was not one: keep looking, from the next line.
            h.chunkTentative = false
            if h.sink == .sse { h.sse.gap() }
            h.mode = .chunkResync
            h.resyncSkipLine = true
            return start
        case .chunkResync:
            return chunkResync(h, bytes, start)
        case .chunkDataEnd:
            var empty: Bool? = nil
            guard let next = readLine(h, bytes, start, limit: 2, tooLong: "http.bad_chunk", emit,
                                      { empty = $0.isEmpty }) else { return n }
            guard let empty else { return next }
            if !empty {
                resync(h, emit, anomaly: "http.bad_chunk", atLineStart: true)
                return next
            }
            h.mode = .chunkSize
            return next
        case .trailers:
            let remaining = max(limits.maxTrailerBytes - h.trailerBytes, 1)
            var length: Int? = nil
            guard let next = readLine(h, bytes, start, limit: remaining, tooLong: "http.header_too_large", emit,
                                      { length = $0.count }) else { return n }
            guard let length else { return next }
            h.trailerBytes += length + 1
            if length == 0 { finishMessage(h, emit) }
            return next
        }
    }

    /// Reads one line. Returns nil if the input ended inside the line (kept in `h.lineBuf` until
    /// the rest comes); otherwise where to go on, having called `body` with the line without CR
    /// and LF, unless the line was too long: then the parser resynced and `body` is not called.
    /// A line that arrived whole is read where it is: the chunk lines of a chunked body (two for
    /// every chunk, and servers send an SSE event a chunk) are neither copied nor kept.
    private func readLine(_ h: Half, _ bytes: UnsafeRawBufferPointer, _ start: Int, limit: Int, tooLong: String,
                          _ emit: (HTTPOutput) -> Void, _ body: (UnsafeRawBufferPointer) -> Void) -> Int? {
        let lf = findByte(10, bytes, from: start)
        let end = lf ?? bytes.count
        let room = limit - h.lineBuf.count
        if end - start > room {
            resync(h, emit, anomaly: tooLong, atLineStart: false)
            return start + max(0, room)
        }
        guard let lf else {
            h.lineBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            return nil
        }
        if h.lineBuf.isEmpty {
            let stop = end > start && bytes[end - 1] == 13 ? end - 1 : end
            body(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]))
        } else {
            // Begun in an earlier input: completed in `lineBuf`, then taken out of it, so that
            // nothing `body` does can meet the buffer being read.
            h.lineBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
            let line = h.lineBuf
            h.lineBuf.removeAll(keepingCapacity: true)
            line.withUnsafeBytes { raw in body(UnsafeRawBufferPointer(rebasing: raw[..<(line.last == 13 ? raw.count - 1 : raw.count)])) }
        }
        return lf + 1
    }

    /// After a gap in chunk framing: read whole lines (bounded) until one is a chunk-size line
    /// (taken tentatively, confirmed by the CRLF after its data) or a start line (the body is
    /// over, a new message begins).
    private func chunkResync(_ h: Half, _ bytes: UnsafeRawBufferPointer, _ start: Int) -> Int {
        let n = bytes.count
        let lf = findByte(10, bytes, from: start)
        if h.resyncSkipLine {
            guard let lf else { return n }
            h.resyncSkipLine = false
            return lf + 1
        }
        let end = lf ?? n
        if h.lineBuf.count + (end - start) > limits.maxChunkLineBytes {
            h.lineBuf.removeAll(keepingCapacity: true)
            h.resyncSkipLine = true
            return end
        }
        h.lineBuf.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<end]))
        guard let lf else { return n }
        var line = h.lineBuf
        h.lineBuf.removeAll(keepingCapacity: true)
        if line.last == 13 { line.removeLast() }
        if let size = line.withUnsafeBytes({ parseChunkSize($0) }) {
            h.chunkTentative = true
            h.trailerBytes = 0
            // Servers flush SSE an event per chunk: a chunk start is most likely an event start.
            if h.sink == .sse { h.sse.resumeAtBoundary() }
            h.mode = size == 0 ? .trailers : .chunkData(size)
        } else if isStartLine(line, h.direction) {
            counters.add("http.resynced")
            abandonBody(h)
            resetHead(h)
            h.holdAfterMessage = false
            h.headBuf = line + [10]
            h.headLines = 1
            h.lineStart = h.headBuf.count
            h.state = .head
        }
        return lf + 1
    }

    private func isStartLine(_ line: [UInt8], _ direction: Direction) -> Bool {
        var v = StartLineValidator(direction: direction)
        return line.withUnsafeBytes { v.feed($0) == nil } && v.finish()
    }

    /// Hex size, then optional white space and `;` extensions (ignored). nil if malformed.
    private func parseChunkSize(_ line: UnsafeRawBufferPointer) -> Int? {
        var value = 0
        var digits = 0
        var i = 0
        while i < line.count, let d = hexValue(line[i]) {
            guard value <= (Int.max >> 4) else { return nil }
            value = value << 4 | d
            digits += 1
            i += 1
        }
        guard digits > 0 else { return nil }
        while i < line.count && (line[i] == 32 || line[i] == 9) { i += 1 }
        if i < line.count && line[i] != 59 { return nil }  // ';'
        return value
    }

    /// Hands body bytes (as sent) to the decoder and sink of the message.
    private func deliver(_ h: Half, _ data: UnsafeRawBufferPointer, _ emit: (HTTPOutput) -> Void) {
        if h.sink == .skip || data.isEmpty { return }
        if let inflater = h.inflater {
            let outcome = inflater.inflate(data) { piece in
                sinkBytes(h, piece, emit)
                return h.sink != .skip
            }
            switch outcome {
            case .ok, .finished: break
            case .stopped: h.inflater = nil
            case .failed(let name):
                anomaly(h.direction, name, emit)
                h.sink = .skip
                h.body = []
                h.inflater = nil
            }
        } else {
            sinkBytes(h, data, emit)
        }
    }

    /// Decoded body bytes: buffer JSON, sniff an untyped body, or run the SSE parser.
    private func sinkBytes(_ h: Half, _ data: UnsafeRawBufferPointer, _ emit: (HTTPOutput) -> Void) {
        switch h.sink {
        case .skip:
            return
        case .json:
            appendBody(h, data, emit)
        case .sniff:
            var k = 0
            while k < data.count, data[k] == 32 || data[k] == 9 || data[k] == 10 || data[k] == 13 { k += 1 }
            if k == data.count {
                appendBody(h, data, emit)  // only white space so far: keep it, bounded
                return
            }
            if data[k] == 123 || data[k] == 91 {  // '{' or '['
                h.sink = .json
                appendBody(h, data, emit)
            } else {
                h.sink = .skip
                h.body = []
            }
        case .sse:
            let ctx = h.context
            let dir = h.direction
            h.sse.feed(data, onEvent: { emit(.sseEvent(ctx, $0)) },
                       onAnomaly: { self.anomaly(dir, $0, emit) })
        }
    }

    private func appendBody(_ h: Half, _ data: UnsafeRawBufferPointer, _ emit: (HTTPOutput) -> Void) {
        if h.body.count + data.count > limits.maxBodyBytes {
            anomaly(h.direction, "http.body_too_large", emit)
            h.sink = .skip
            h.body = []
            return
        }
        h.body.append(contentsOf: data)
    }

    /// A gap inside a body of known length: the body is damaged but framing survives.
    private func damage(_ h: Half) {
        if h.inflater != nil {
            // A compressed stream cannot continue past lost bytes.
            h.inflater = nil
            if h.sink == .sse { h.sse.end() }
            if h.sink != .skip { counters.add("http.body_damaged") }
            h.sink = .skip
        }
        switch h.sink {
        case .json, .sniff:
            counters.add("http.body_damaged")
            h.sink = .skip
            h.body = []
        case .sse:
            h.sse.gap()
        case .skip:
            break
        }
        h.damaged = true
    }

    /// The message of this direction is complete: deliver a buffered body, reset for the next.
    private func finishMessage(_ h: Half, _ emit: (HTTPOutput) -> Void) {
        switch h.sink {
        case .json:
            if let inflater = h.inflater, !inflater.isFinished {
                anomaly(h.direction, "http.truncated_compressed_body", emit)
            } else if !h.damaged && !h.body.isEmpty {
                emit(.body(h.direction, h.context, h.body))
            }
        case .sse:
            h.sse.end()
        case .sniff, .skip:
            break
        }
        abandonBody(h)
        h.state = .head
        if h.holdAfterMessage {
            h.holdAfterMessage = false
            h.state = .holding
        }
    }

    private func abandonBody(_ h: Half) {
        h.sink = .skip
        h.body = []
        h.inflater = nil
        h.sse = SSEParser(maxEventBytes: limits.maxSSEEventBytes)
        h.damaged = false
        h.transferCoded = false
        h.lineBuf.removeAll(keepingCapacity: false)
        h.mode = .untilClose
        h.chunkTentative = false
        h.resyncSkipLine = false
    }

    // MARK: - Upgrade hold

    private func hold(_ h: Half, _ data: UnsafeRawBufferPointer, _ emit: (HTTPOutput) -> Void) {
        if h.held.count + data.count > limits.maxUpgradeHoldBytes {
            anomaly(h.direction, "http.upgrade_hold_overflow", emit)
            h.held = []
            h.state = .head
            resync(h, emit, anomaly: nil, atLineStart: false)
            return
        }
        h.held.append(contentsOf: data)
    }

    private func releaseHold(_ h: Half, _ emit: (HTTPOutput) -> Void) {
        guard h.state == .holding else { return }
        let held = h.held
        h.held = []
        h.state = .head
        held.withUnsafeBytes { feed($0, direction: h.direction, emit: emit) }
    }

    // MARK: - Errors and resync

    private func resync(_ h: Half, _ emit: (HTTPOutput) -> Void, anomaly name: String?, atLineStart: Bool) {
        if let name { anomaly(h.direction, name, emit) }
        abandonBody(h)
        resetHead(h)
        h.holdAfterMessage = false
        h.state = .head
        h.resyncing = true
        h.scanning = true
        // Mid-line (after a gap or a cut line) a candidate may start at once: a lost segment
        // often ends exactly at a message boundary. Mid-line request candidates must use a
        // registered method, so "ST /x HTTP/1.1" after a lost "PO" is not taken for a request.
        h.scanPrev = atLineStart ? 10 : 0
    }

    private func resetHead(_ h: Half) {
        // Released, not kept for the next head: a direction spends most of its life in a body,
        // and the buffer budget reads every buffer's capacity after each delivery, a cache miss
        // each for a buffer nothing else touches (simulated L2 misses −4.7 % for +0.4 %
        // instructions, the allocation of each head's buffer; an idle connection holds less).
        h.headBuf.removeAll(keepingCapacity: false)
        h.headLines = 0
        h.lineStart = 0
        h.validator.reset()
    }

    private func anomaly(_ direction: Direction, _ name: String, _ emit: (HTTPOutput) -> Void) {
        counters.add(name)
        emit(.anomaly(direction, name))
    }
}

// MARK: - Per-direction state

/// Everything one direction of the connection keeps between feeds. A class so the parser can
/// update it in place without copying its buffers.
private final class Half {
    enum State { case head, body, holding, stopped }
    enum Mode { case length(Int), untilClose, chunkSize, chunkData(Int), chunkDataEnd, trailers, chunkResync }
    enum Sink { case skip, json, sniff, sse }

    let direction: Direction
    var state = State.head

    // Head being read.
    // The four byte buffers are read on every delivery for the engine's memory budget
    // (`heldCapacity`). Run-time exclusivity checks on them are off: every access is one
    // standard-library operation (append, count, copy, assignment), and the one long access,
    // the read of `headBuf` in `parseHeadBuffer`, runs no code outside the parser.
    @exclusivity(unchecked) var headBuf: [UInt8] = []
    var headLines = 0
    var lineStart = 0
    /// Unchecked: its accesses are calls of its own methods, which call nothing else.
    @exclusivity(unchecked) var validator: StartLineValidator
    /// Looking for where a start line could begin (after an error or a gap).
    var scanning = false
    /// While scanning: the byte before the next one (LF at a line start).
    var scanPrev: UInt8 = 10
    /// Looking for a start line after an error: non-start lines are skipped silently.
    var resyncing = false

    // Body being read.
    var mode = Mode.untilClose
    var sink = Sink.skip
    // Unchecked, like the buffers: `context` is assigned and copied, `inflater` is a reference
    // assigned and loaded, and `sse` is reset, told of gaps and ends, and fed; feeding calls back
    // with each event, which the engine hands to the session stage, never to this parser.
    @exclusivity(unchecked) var context = HTTPMessageContext(exchangeIndex: 0, request: nil, response: nil)
    @exclusivity(unchecked) var body: [UInt8] = []
    @exclusivity(unchecked) var sse: SSEParser
    @exclusivity(unchecked) var inflater: Inflater?
    var damaged = false
    var transferCoded = false
    @exclusivity(unchecked) var lineBuf: [UInt8] = []
    var trailerBytes = 0
    /// Chunk resync: skip to the end of the current line before looking again.
    var resyncSkipLine = false
    /// The current chunk was found by resync and is confirmed only by the CRLF after its data.
    var chunkTentative = false

    // Upgrade/CONNECT: bytes that follow the request until the server answers.
    var holdAfterMessage = false
    var holdIndex = 0
    @exclusivity(unchecked) var held: [UInt8] = []

    init(_ direction: Direction, _ limits: HTTPLimits) {
        self.direction = direction
        validator = StartLineValidator(direction: direction)
        sse = SSEParser(maxEventBytes: limits.maxSSEEventBytes)
    }
}

/// HTTP limits held once for many parsers: an engine makes one and gives it to every connection's
/// parser, which then holds a reference (8 bytes) instead of its own copy (88).
public final class SharedHTTPLimits: Sendable {
    public let limits: HTTPLimits
    public init(_ limits: HTTPLimits) { self.limits = limits }
}

// MARK: - Helpers

@inline(__always)
private func findByte(_ byte: UInt8, _ buf: UnsafeRawBufferPointer, from: Int) -> Int? {
    guard from < buf.count, let base = buf.baseAddress else { return nil }
    guard let p = memchr(base + from, Int32(byte), buf.count - from) else { return nil }
    return base.distance(to: UnsafeRawPointer(p))
}

@inline(__always)
private func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 48...57: return Int(b - 48)
    case 65...70: return Int(b - 55)
    case 97...102: return Int(b - 87)
    default: return nil
    }
}

/// Moves `start` and `end` inwards past spaces and tabs (optional white space).
@inline(__always)
private func trimOWS(_ b: UnsafeRawBufferPointer, _ start: inout Int, _ end: inout Int) {
    while start < end && (b[start] == 32 || b[start] == 9) { start += 1 }
    while end > start && (b[end - 1] == 32 || b[end - 1] == 9) { end -= 1 }
}

extension StringProtocol {
    fileprivate func trimmingSpaces() -> String {
        let u = Array(utf8)
        var s = 0, e = u.count
        while s < e && (u[s] == 32 || u[s] == 9) { s += 1 }
        while e > s && (u[e - 1] == 32 || u[e - 1] == 9) { e -= 1 }
        return String(decoding: u[s..<e], as: UTF8.self)
    }
}

extension HTTPConnectionParser.BodyFields {
    /// Read into locals, then made by the memberwise initializer: assigning each field of
    /// `self` built the value in a temporary and copied it (see `MCPPayload`).
    init(_ headers: HTTPHeaders) {
        var transferEncodings = 0, contentLengths = 0, chunked = false, length: Int? = nil
        var contentType: String? = nil, contentEncoding = false, upgrade = false
        headers.forEachField { name, value in
            switch name.count {
            case 7:
                if HTTPConnectionParser.nameIs(name, "upgrade") { upgrade = true }
            case 12:
                if contentType == nil, HTTPConnectionParser.nameIs(name, "content-type") { contentType = HTTPHeaders.text(value) }
            case 14:
                if HTTPConnectionParser.nameIs(name, "content-length") {
                    if contentLengths == 0 { length = HTTPConnectionParser.plainDigits(value) }
                    contentLengths += 1
                }
            case 16:
                if HTTPConnectionParser.nameIs(name, "content-encoding") { contentEncoding = true }
            case 17:
                if HTTPConnectionParser.nameIs(name, "transfer-encoding") {
                    if transferEncodings == 0 { chunked = value.elementsEqual("chunked".utf8) }
                    transferEncodings += 1
                }
            default:
                break
            }
        }
        self.init(transferEncodings: transferEncodings, contentLengths: contentLengths, chunked: chunked,
                  length: length, contentType: contentType, contentEncoding: contentEncoding, upgrade: upgrade)
    }
}
