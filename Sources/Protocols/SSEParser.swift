import SonarCore

// Server-Sent Events: the "event stream interpretation" of the HTML Living Standard (9.2.6),
// as a push parser that can be cut at any byte.

/// Incremental `text/event-stream` parser.
///
/// Follows the HTML standard (CRLF, LF or CR line ends, also when a CR and its LF arrive in
/// different feeds; a leading UTF-8 BOM skipped; `:` comment lines; one space after the colon
/// stripped; `id` values containing NUL ignored; `retry` only when all digits; unknown fields
/// ignored) with one deliberate deviation: an event is dispatched when it had a `data`, `id` or
/// `event` field, not only when it had data, so that the MCP 2025-11-25 priming event (an `id:`
/// with empty data) is seen. A block with only `retry:` or comments still dispatches nothing.
///
/// At end of stream an unfinished event is discarded, as the standard requires.
/// An event larger than `maxEventBytes` is dropped with the anomaly "sse.event_too_large" and
/// everything up to the next blank line is skipped without being buffered.
public struct SSEParser: Sendable {
    public var maxEventBytes: Int

    /// Bytes of the UTF-8 BOM matched so far at stream start; 3 once the start is behind us.
    private var bomMatched = 0
    /// The previous feed ended in CR: an LF opening the next one belongs to that line end.
    private var pendingCR = false
    /// The unfinished line carried over from earlier feeds (only when a line spans feeds).
    private var line: [UInt8] = []
    /// Dropping everything until a blank line (after an oversized event or a gap).
    private var skipping = false
    /// While skipping: the last byte seen ended a line.
    private var skipAtLineStart = false

    private var data: [UInt8] = []
    private var sawData = false
    private var eventType: String?
    private var eventID: String?
    private var retry: Int?

    /// Bytes currently held: the event being assembled and an unfinished line.
    public var bufferedBytes: Int { line.count + data.count }
    /// What the buffers reserved.
    public var heldCapacity: Int { line.capacity + data.capacity }

    public init(maxEventBytes: Int = 16 * 1024 * 1024) {
        self.maxEventBytes = maxEventBytes
    }

    /// The first CR or LF at or after `from`, or the end of `bytes`. Eight bytes at a time: a
    /// `data:` line is a whole JSON-RPC message (hundreds of bytes), scanned byte by byte it was
    /// most of this parser's time. The first marked byte of the stopping word is exactly the
    /// first line end (`ByteLanes`).
    @inline(__always)
    static func lineEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        let n = bytes.count
        var j = from
        if let base = bytes.baseAddress {
            while j &+ 8 <= n {
                let x = ByteLanes.load(base, j)
                let t = ByteLanes.equal(x, 0x0A) | ByteLanes.equal(x, 0x0D)
                if t != 0 { return j &+ ByteLanes.first(t) }
                j &+= 8
            }
        }
        while j < n {
            let b = bytes[j]
            if b == 10 || b == 13 { break }
            j &+= 1
        }
        return j
    }

    /// Parses `bytes`, calling `onEvent` for each dispatched event and `onAnomaly` for breaches.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer,
                              onEvent: (SSEEvent) -> Void,
                              onAnomaly: (String) -> Void) {
        let n = bytes.count
        var i = 0
        // The BOM is only looked for once, at the very start of the stream.
        while bomMatched < 3 && i < n {
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            if bytes[i] == bom[bomMatched] {
                bomMatched += 1
                i += 1
            } else {
                // Not a BOM after all: what matched so far is ordinary line content.
                line.append(contentsOf: bom[0..<bomMatched])
                bomMatched = 3
            }
        }
        if pendingCR && i < n {
            pendingCR = false
            if bytes[i] == 10 { i += 1 }
        }
        while i < n {
            if skipping {
                i = skip(bytes, from: i)
                continue
            }
            let j = SSEParser.lineEnd(bytes, from: i)
            if j == n {
                if line.count + (n - i) + data.count > maxEventBytes {
                    tooLarge(onAnomaly)
                    skipAtLineStart = false
                } else {
                    line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<n]))
                }
                return
            }
            // The same bound as for a partial line above, so the verdict never depends on
            // where the input was cut. It also bounds every field value.
            if line.count + (j - i) + data.count > maxEventBytes {
                tooLarge(onAnomaly)
                skipAtLineStart = true  // this line ends here: a blank line next ends the skip
            } else if line.isEmpty {
                processLine(UnsafeRawBufferPointer(rebasing: bytes[i..<j]), onEvent, onAnomaly)
            } else {
                line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[i..<j]))
                var whole: [UInt8] = []
                swap(&whole, &line)
                whole.withUnsafeBytes { processLine($0, onEvent, onAnomaly) }
                whole.removeAll(keepingCapacity: true)
                swap(&whole, &line)
            }
            i = consumeLineEnd(bytes, at: j)
        }
    }

    /// A gap in the stream: the event being read is lost, so drop it and wait for a blank line.
    public mutating func gap() {
        resetEvent()
        line.removeAll(keepingCapacity: false)
        pendingCR = false
        bomMatched = 3
        skipping = true
        skipAtLineStart = false
    }

    /// The next byte is known to start an event (e.g. a chunk boundary found after a gap): drop
    /// what was in progress and stop skipping.
    public mutating func resumeAtBoundary() {
        resetEvent()
        line.removeAll(keepingCapacity: false)
        pendingCR = false
        bomMatched = 3
        skipping = false
        skipAtLineStart = false
    }

    /// End of stream: an unfinished event is discarded (HTML standard), the parser is reset.
    public mutating func end() {
        resetEvent()
        line.removeAll(keepingCapacity: false)
        pendingCR = false
        skipping = false
    }

    /// Consumes the line end at `j` (CR, LF or CRLF, possibly split across feeds).
    private mutating func consumeLineEnd(_ bytes: UnsafeRawBufferPointer, at j: Int) -> Int {
        var i = j + 1
        if bytes[j] == 13 {
            if i < bytes.count {
                if bytes[i] == 10 { i += 1 }
            } else {
                pendingCR = true
            }
        }
        return i
    }

    /// Skips until a blank line (two line ends in a row); returns the next index to read.
    private mutating func skip(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var i = start
        let n = bytes.count
        while i < n {
            let end = SSEParser.lineEnd(bytes, from: i)
            if end > i { skipAtLineStart = false } // the line has content: not a blank one
            if end == n { return n }
            let next = consumeLineEnd(bytes, at: end)
            if skipAtLineStart {
                skipping = false
                skipAtLineStart = false
                return next
            }
            skipAtLineStart = true
            i = next
        }
        return i
    }

    private mutating func tooLarge(_ onAnomaly: (String) -> Void) {
        onAnomaly("sse.event_too_large")
        resetEvent()
        line.removeAll(keepingCapacity: false)
        skipping = true
    }

    private mutating func resetEvent() {
        data.removeAll(keepingCapacity: data.count <= 64 * 1024)
        sawData = false
        eventType = nil
        eventID = nil
        retry = nil
    }

    private mutating func processLine(_ l: UnsafeRawBufferPointer,
                                      _ onEvent: (SSEEvent) -> Void,
                                      _ onAnomaly: (String) -> Void) {
        _ = onAnomaly
        if l.isEmpty {
            dispatch(onEvent)
            return
        }
        if l[0] == 58 { return }  // ':' comment, e.g. the Python SDK's ": ping"
        var colon = 0
        while colon < l.count && l[colon] != 58 { colon += 1 }
        let name = UnsafeRawBufferPointer(rebasing: l[0..<colon])
        var valueStart = min(colon + 1, l.count)
        if valueStart < l.count && l[valueStart] == 32 { valueStart += 1 }
        let value = UnsafeRawBufferPointer(rebasing: l[valueStart..<l.count])

        if equals(name, "data") {
            // Bounded by the caller's check: value + LF is shorter than the line.
            data.append(contentsOf: value)
            data.append(10)
            sawData = true
        } else if equals(name, "event") {
            eventType = String(decoding: value, as: UTF8.self)
        } else if equals(name, "id") {
            if !value.contains(0) { eventID = String(decoding: value, as: UTF8.self) }
        } else if equals(name, "retry") {
            // Digits only; more than 18 digits cannot be a sane delay and would overflow.
            if !value.isEmpty && value.count <= 18 && value.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
                retry = value.reduce(0) { $0 * 10 + Int($1 - 48) }
            }
        }
    }

    private mutating func dispatch(_ onEvent: (SSEEvent) -> Void) {
        guard sawData || eventID != nil || eventType != nil else {
            resetEvent()
            return
        }
        // Take the buffer rather than copy it: a large event is never duplicated.
        var d: [UInt8] = []
        swap(&d, &data)
        if d.last == 10 { d.removeLast() }
        let type = (eventType?.isEmpty ?? true) ? "message" : (eventType ?? "message")
        let ev = SSEEvent(event: type, data: consume d, id: eventID, retry: retry)
        resetEvent()
        onEvent(ev)
    }

    @inline(__always)
    private func equals(_ bytes: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard bytes.count == s.utf8CodeUnitCount else { return false }
        let p = s.utf8Start
        for k in 0..<bytes.count where bytes[k] != p[k] { return false }
        return true
    }
}
