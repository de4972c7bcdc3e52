import SonarCore

/// Builds one JSON object on one line, straight into bytes: keys in the order written, strings
/// escaped per RFC 8259 (control characters, quote, backslash; U+2028/2029 too, so a line stays
/// safe for JavaScript consumers). Deterministic: the same calls give the same bytes.
public struct JSONWriter: ~Copyable {
    // The bytes live in a buffer of its own, not an Array: every event is some forty small
    // appends, and an Array append checks uniqueness and capacity through calls each time
    // (233 instructions for one `"key":`, measured). Noncopyable, so the buffer has one owner
    // and is freed in `deinit`.
    private var base: UnsafeMutablePointer<UInt8>
    private var count = 0
    private var capacity: Int
    /// One bit per open container, innermost lowest: whether a value was written in it already.
    /// Events nest a handful of levels; past 64 the outer levels' bits are kept in `deeper`.
    private var hasValue: UInt64 = 0
    private var depth = 0
    private var deeper: [UInt64] = []
    /// Set between a key and its value, so the value adds no comma.
    private var afterKey = false
    /// The last two seconds whose time was written, and their text up to the seconds
    /// (`2026-11-24T15:47:09`, 19 bytes): the events of a capture come in time order, so most
    /// times fall in a second written just before, and only the microseconds are new. A
    /// `flow` event's start and end are the two. With the date worked out from the day count each
    /// time, a time's field cost 427 instructions; from here 164 (every event has one, a `flow` event three).
    private var recentSeconds: InlineArray<2, Int64> = [.min, .min]
    private var recentTexts: InlineArray<2, InlineArray<19, UInt8>> = [InlineArray(repeating: 0), InlineArray(repeating: 0)]
    private var recentNext = 0

    /// `capacity`: events are 450-1,000 bytes (median about 630 on the benchmark corpus), so
    /// one buffer of the default size holds nearly every one without growing.
    public init(capacity: Int = 1024) {
        self.capacity = max(capacity, 64)
        base = UnsafeMutablePointer<UInt8>.allocate(capacity: self.capacity)
    }

    deinit { base.deallocate() }

    /// What was written so far.
    public var bytes: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Bytes reserved (tests: a buffer grown by one large line is given back on `reset`).
    var reservedBytes: Int { capacity }

    /// Calls `body` with what was written so far, in place.
    public func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Empty again, for the next line: a writer kept by its user costs no allocation a line. A
    /// buffer grown past `keepingAtMost` bytes by one large line is given back.
    public mutating func reset(keepingAtMost limit: Int = 1 << 16) {
        count = 0
        hasValue = 0
        depth = 0
        deeper.removeAll()
        afterKey = false
        if capacity > max(limit, 64) {
            base.deallocate()
            capacity = max(limit, 64)
            base = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        }
    }

    public mutating func beginObject() { separate(); put(UInt8(ascii: "{")); push() }
    public mutating func endObject() { put(UInt8(ascii: "}")); pop() }
    public mutating func beginArray() { separate(); put(UInt8(ascii: "[")); push() }
    public mutating func endArray() { put(UInt8(ascii: "]")); pop() }

    /// Writes `"name":` — the value follows with one of the value calls. Names written in the
    /// code are plain ASCII and copied as they are; names from data go through `key(dynamic:)`.
    /// Inlined: each call site's name is a literal, so its length is a constant there and the
    /// copy a few fixed stores (an event writes some forty keys; out of line, 64 instructions each).
    @inline(__always) public mutating func key(_ name: StaticString) {
        // A string literal passed as a StaticString always has its UTF-8 bytes (pointer
        // representation), so `utf8Start` is valid; keys are literals of this code, never data.
        let n = name.utf8CodeUnitCount
        // Room for a comma, the quotes and the colon at once; then written through locals: a
        // store through `base` may alias `count`, so the fields were reloaded after every byte.
        reserve(n &+ 4)
        let b = base
        var c = count
        if afterKey {
            afterKey = false
        } else if depth > 0 {
            if hasValue & 1 != 0 { b[c] = UInt8(ascii: ","); c &+= 1 }
            hasValue |= 1
        }
        b[c] = UInt8(ascii: "\"")
        JSONWriter.copySmall(name.utf8Start, n, to: b + (c &+ 1))
        b[c &+ 1 &+ n] = UInt8(ascii: "\"")
        b[c &+ 2 &+ n] = UInt8(ascii: ":")
        count = c &+ n &+ 3
        afterKey = true
    }

    /// `key` for a name taken from data (a counter, a tool, a sink label): escaped.
    public mutating func key(dynamic name: String) {
        separate()
        appendQuoted(name)
        put(UInt8(ascii: ":"))
        afterKey = true
    }

    public mutating func string(_ s: String) { separate(); appendQuoted(s) }
    public mutating func int<T: BinaryInteger>(_ v: T) {
        separate()
        if let x = Int64(exactly: v) {
            appendDecimal(x)
        } else if let x = UInt64(exactly: v) {
            appendDecimal(x)
        } else {
            append(String(v).utf8)
        }
    }

    /// The decimal digits of `v`, written straight into the bytes (no String on the way).
    private mutating func appendDecimal(_ v: Int64) {
        if v < 0 {
            put(UInt8(ascii: "-"))
            appendDecimal(v.magnitude)
        } else {
            appendDecimal(UInt64(v))
        }
    }

    /// Counted by multiplying (no division), written from the last digit two at a time from a
    /// table: digit by digit, with two divisions each, a port took about 130 instructions.
    private mutating func appendDecimal(_ v: UInt64) {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && v >= limit {
            digits &+= 1
            limit = limit &* 10
        }
        reserve(digits)
        let pairs = DecimalDigits.pairs.utf8Start
        let out = base
        var i = count &+ digits
        var n = v
        while n >= 100 {
            let q = n / 100
            let r = Int(truncatingIfNeeded: n &- q &* 100)
            i &-= 2
            out[i] = pairs[2 &* r]
            out[i &+ 1] = pairs[2 &* r &+ 1]
            n = q
        }
        if n >= 10 {
            let r = Int(truncatingIfNeeded: n)
            out[i &- 2] = pairs[2 &* r]
            out[i &- 1] = pairs[2 &* r &+ 1]
        } else {
            out[i &- 1] = UInt8(truncatingIfNeeded: 48 &+ n)
        }
        count &+= digits
    }
    public mutating func bool(_ v: Bool) { separate(); append(v ? "true" : "false") }
    public mutating func null() { separate(); append("null") }
    /// A value that is already valid JSON text (a number as sent, a compacted message).
    public mutating func raw(_ json: String) { separate(); append(json.utf8) }
    public mutating func raw(bytes json: some Sequence<UInt8>) { separate(); append(json) }

    /// Microseconds written as a decimal number of milliseconds with three places: exact, no float.
    public mutating func milliseconds(microseconds us: Int64) {
        separate()
        let v = max(0, us)
        appendDecimal(v / 1000)
        put(UInt8(ascii: "."))
        let frac = v % 1000
        if frac < 100 { put(UInt8(ascii: "0")) }
        if frac < 10 { put(UInt8(ascii: "0")) }
        appendDecimal(frac)
    }

    public mutating func field(_ name: StaticString, _ value: String?) { if let value { key(name); string(value) } }
    public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) { if let value { key(name); int(value) } }
    public mutating func field(_ name: StaticString, _ value: Bool?) { if let value { key(name); bool(value) } }
    /// A packet time as ISO-8601 text (`Timestamp.iso8601`), without a String on the way.
    public mutating func field(_ name: StaticString, time: Timestamp) {
        key(name)
        separate()
        let (seconds, micros) = time.secondsAndMicros
        let slot = seconds == recentSeconds[0] ? 0 : seconds == recentSeconds[1] ? 1 : -1
        if slot >= 0 {
            // `"` + date and time of day + `.` + six digits + `+0000"`: 33 bytes.
            reserve(33)
            let b = base + count
            b[0] = UInt8(ascii: "\"")
            for i in 0..<19 { b[1 + i] = recentTexts[slot][i] }
            Timestamp.writeFraction(Int(micros), to: b + 20)
            b[32] = UInt8(ascii: "\"")
            count += 33
            return
        }
        let written: Bool? = time.withISO8601Bytes { text in
            put(UInt8(ascii: "\""))
            append(text)
            put(UInt8(ascii: "\""))
            // Kept for the next times in the same second (years 0…9999 only, as written here).
            let keep = recentNext
            recentNext ^= 1
            recentSeconds[keep] = seconds
            for i in 0..<19 { recentTexts[keep][i] = text[i] }
            return true
        }
        if written == nil { appendQuoted(time.iso8601) }
    }

    /// An address as text (`IPAddress.description`); IPv4 written straight into the bytes.
    public mutating func field(_ name: StaticString, address: IPAddress) {
        key(name)
        separate()
        guard case .v4(let a) = address else { appendQuoted(address.description); return }
        reserve(17)
        base[count] = UInt8(ascii: "\"")
        let n = IPAddress.writeDottedQuad(a, into: UnsafeMutableBufferPointer(start: base + count + 1, count: 15))
        base[count + 1 + n] = UInt8(ascii: "\"")
        count += n + 2
    }

    /// A digest as its 64 hex digits, written straight into the bytes (nothing to escape).
    public mutating func field(_ name: StaticString, _ value: SHA256Value?) {
        guard let value else { return }
        key(name)
        separate()
        reserve(66)
        base[count] = UInt8(ascii: "\"")
        value.withUnsafeBytes { Hex.write($0, to: UnsafeMutableRawPointer(base + count + 1)) }
        base[count + 65] = UInt8(ascii: "\"")
        count += 66
    }

    /// A value written in the code (an event type, an enum's name): plain ASCII with nothing to
    /// escape, copied as the key is. Through a String it was escaped and copied as data, about
    /// 130 instructions more, four times an event.
    @inline(__always) public mutating func field(_ name: StaticString, literal value: StaticString) {
        key(name)
        let n = value.utf8CodeUnitCount
        reserve(n &+ 2)
        let b = base
        let c = count
        b[c] = UInt8(ascii: "\"")
        JSONWriter.copySmall(value.utf8Start, n, to: b + (c &+ 1))
        b[c &+ 1 &+ n] = UInt8(ascii: "\"")
        count = c &+ n &+ 2
        afterKey = false
    }

    public mutating func field(dynamic name: String, _ value: String?) { if let value { key(dynamic: name); string(value) } }
    public mutating func field<T: BinaryInteger>(dynamic name: String, _ value: T?) { if let value { key(dynamic: name); int(value) } }

    @inline(__always) private mutating func separate() {
        if afterKey { afterKey = false; return }
        guard depth > 0 else { return }
        if hasValue & 1 != 0 { put(UInt8(ascii: ",")) }
        hasValue |= 1
    }

    private mutating func push() {
        if depth >= 64 { deeper.append(hasValue >> 63) }
        hasValue <<= 1
        depth += 1
    }

    private mutating func pop() {
        guard depth > 0 else { return }
        depth -= 1
        hasValue >>= 1
        if depth >= 64, let outer = deeper.popLast() { hasValue |= outer << 63 }
    }

    /// Room for `n` more bytes.
    @inline(__always) private mutating func reserve(_ n: Int) {
        if capacity - count < n { grow(to: count + n) }
    }

    private mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        bigger.initialize(from: base, count: count)
        base.deallocate()
        base = bigger
        capacity = newCapacity
    }

    @inline(__always) private mutating func put(_ b: UInt8) {
        reserve(1)
        base[count] = b
        count += 1
    }

    private mutating func append(_ p: UnsafeBufferPointer<UInt8>) {
        guard let start = p.baseAddress, p.count > 0 else { return }
        reserve(p.count)
        JSONWriter.copySmall(start, p.count, to: base + count)
        count += p.count
    }

    /// Copies `n` bytes. Keys and the other pieces an event is made of are a few bytes to a few
    /// dozen: copied a word at a time here (the last word overlapping, never reading past the
    /// source), not through a call to `memmove` each. Longer runs still go to `memmove`.
    @inline(__always)
    private static func copySmall(_ source: UnsafePointer<UInt8>, _ n: Int, to target: UnsafeMutablePointer<UInt8>) {
        let from = UnsafeRawPointer(source), to = UnsafeMutableRawPointer(target)
        if n >= 8 {
            guard n <= 64 else { target.update(from: source, count: n); return }
            var i = 0
            while i + 8 <= n {
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: i, as: UInt64.self), toByteOffset: i, as: UInt64.self)
                i += 8
            }
            if i < n {
                to.storeBytes(of: from.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), toByteOffset: n - 8, as: UInt64.self)
            }
        } else if n >= 4 {
            let head = from.loadUnaligned(as: UInt32.self), tail = from.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
            to.storeBytes(of: head, as: UInt32.self)
            to.storeBytes(of: tail, toByteOffset: n - 4, as: UInt32.self)
        } else {
            for i in 0..<n { target[i] = source[i] }
        }
    }

    private mutating func append(_ s: StaticString) {
        append(UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private mutating func append(_ bytes: some Sequence<UInt8>) {
        let done: Void? = bytes.withContiguousStorageIfAvailable { append($0) }
        if done == nil { for b in bytes { put(b) } }
    }

    private static let hex: StaticString = "0123456789abcdef"

    /// Whether some byte of `word` is a control character, a quote, a backslash or 0xE2 (which
    /// may start U+2028/U+2029). May say yes wrongly (borrows across bytes), never no wrongly.
    @inline(__always) private static func mayNeedEscape(_ word: UInt64) -> Bool {
        ByteLanes.below(word, 0x20) | ByteLanes.equal(word, 0x22) | ByteLanes.equal(word, 0x5C)
            | ByteLanes.equal(word, 0xE2) != 0
    }

    private mutating func appendQuoted(_ s: String) {
        // Read in place: a mutable copy for `withUTF8` retained and released every string written.
        s.withUTF8Bytes { appendQuoted(utf8: $0) }
    }

    /// Most strings need no escaping: they are copied as they are scanned, eight bytes at a
    /// time, into room reserved once. At the first byte that may need escaping the rest goes
    /// through `appendEscaped`.
    private mutating func appendQuoted(utf8: UnsafeBufferPointer<UInt8>) {
        let n = utf8.count
        reserve(n &+ 2)
        // Through a local: a store through `base` may alias the fields, reloaded after each.
        let dst = base
        dst[count] = UInt8(ascii: "\"")
        var out = count &+ 1
        var i = 0
        if let src = utf8.baseAddress {
            let from = UnsafeRawPointer(src)
            let to = UnsafeMutableRawPointer(dst)
            while i + 8 <= n {
                let word = from.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                if JSONWriter.mayNeedEscape(word) { break }
                to.storeBytes(of: word, toByteOffset: out, as: UInt64.self)
                i += 8
                out += 8
            }
            // The last few bytes (fewer than eight, when no byte stopped the loop) as one word
            // too, not byte by byte: the string's last eight bytes (or, shorter than eight, its
            // first and last four), overlapping what was copied already with the same bytes.
            // Any byte that may need escaping sends the rest through the checks below.
            let left = n &- i
            if left > 0 && left < 8 {
                if n >= 8 {
                    let word = from.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
                    if !JSONWriter.mayNeedEscape(word) {
                        to.storeBytes(of: word, toByteOffset: out &+ left &- 8, as: UInt64.self)
                        i = n
                        out &+= left
                    }
                } else if n >= 4 {
                    let head = from.loadUnaligned(as: UInt32.self)
                    let tail = from.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
                    if !JSONWriter.mayNeedEscape(UInt64(head) << 32 | UInt64(tail)) {
                        to.storeBytes(of: head, toByteOffset: out, as: UInt32.self)
                        to.storeBytes(of: tail, toByteOffset: out &+ n &- 4, as: UInt32.self)
                        i = n
                        out &+= n
                    }
                }
            }
            while i < n {
                let b = src[i]
                guard b >= 0x20 && b != 0x22 && b != 0x5C && b != 0xE2 else {
                    count = out
                    appendEscaped(UnsafeBufferPointer(rebasing: utf8[i...]))
                    put(UInt8(ascii: "\""))
                    return
                }
                dst[out] = b
                out &+= 1
                i &+= 1
            }
        }
        dst[out] = UInt8(ascii: "\"")
        count = out &+ 1
    }

    /// The escaping rules, for the part of a string from the first byte that may need them.
    private mutating func appendEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        let n = utf8.count
        let raw = UnsafeRawBufferPointer(utf8)
        var runStart = 0
        var i = 0
        while i < n {
            // Most bytes need nothing: find the next one that may (control, quote,
            // backslash, or the first byte of U+2028/U+2029) and copy the run before it whole.
            // Eight bytes at a time while none of them may need escaping (a conservative
            // test: a false alarm only sends that word through the byte checks below).
            if i + 8 <= n, !JSONWriter.mayNeedEscape(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) {
                i += 8
                continue
            }
            let b = utf8[i]
            if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0xE2 { i += 1; continue }
            if b == 0xE2 {
                guard i + 2 < n, utf8[i + 1] == 0x80, utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9 else { i += 1; continue }
                append(UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                append(utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029")
                i += 3
                runStart = i
                continue
            }
            append(UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
            put(0x5C)
            switch b {
            case 0x22: put(0x22)
            case 0x5C: put(0x5C)
            case 0x0A: put(UInt8(ascii: "n"))
            case 0x0D: put(UInt8(ascii: "r"))
            case 0x09: put(UInt8(ascii: "t"))
            default:
                append("u00")
                let hex = JSONWriter.hex.utf8Start
                put(hex[Int(b >> 4)]); put(hex[Int(b & 0xF)])
            }
            i += 1
            runStart = i
        }
        append(UnsafeBufferPointer(rebasing: utf8[runStart..<n]))
    }
}
