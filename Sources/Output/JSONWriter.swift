import SonarCore

/// Builds one JSON object on one line, straight into bytes: keys in the order written, strings
/// escaped per RFC 8259 (control characters, quote, backslash; U+2028/2029 too, so a line stays
/// safe for JavaScript consumers). Deterministic: the same calls give the same bytes.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// One entry per open container: whether a value was written in it already.
    private var hasValue: [Bool] = []

    public init(capacity: Int = 512) { bytes.reserveCapacity(capacity) }

    public mutating func beginObject() { separate(); bytes.append(UInt8(ascii: "{")); hasValue.append(false) }
    public mutating func endObject() { bytes.append(UInt8(ascii: "}")); _ = hasValue.popLast() }
    public mutating func beginArray() { separate(); bytes.append(UInt8(ascii: "[")); hasValue.append(false) }
    public mutating func endArray() { bytes.append(UInt8(ascii: "]")); _ = hasValue.popLast() }

    /// Writes `"name":` — the value follows with one of the value calls. Names written in the
    /// code are plain ASCII and copied as they are; names from data go through `key(dynamic:)`.
    public mutating func key(_ name: StaticString) {
        separate()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// `key` for a name taken from data (a counter, a tool, a sink label): escaped.
    public mutating func key(dynamic name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Set between a key and its value, so the value adds no comma.
    private var afterKey = false

    public mutating func string(_ s: String) { separate(); appendQuoted(s) }
    public mutating func int<T: BinaryInteger>(_ v: T) {
        separate()
        if let x = Int64(exactly: v) {
            appendDecimal(x)
        } else if let x = UInt64(exactly: v) {
            appendDecimal(x)
        } else {
            bytes.append(contentsOf: String(v).utf8)
        }
    }

    /// The decimal digits of `v`, written straight into the bytes (no String on the way).
    private mutating func appendDecimal(_ v: Int64) {
        if v < 0 {
            bytes.append(UInt8(ascii: "-"))
            appendDecimal(v.magnitude)
        } else {
            appendDecimal(UInt64(v))
        }
    }

    private mutating func appendDecimal(_ v: UInt64) {
        if v < 10 { bytes.append(UInt8(truncatingIfNeeded: 48 + v)); return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = v, i = 20
            while n > 0 {
                i -= 1
                digits[i] = UInt8(truncatingIfNeeded: 48 + n % 10)
                n /= 10
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[i..<20]))
        }
    }
    public mutating func bool(_ v: Bool) { separate(); bytes.append(contentsOf: (v ? "true" : "false").utf8) }
    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
    /// A value that is already valid JSON text (a number as sent, a compacted message).
    public mutating func raw(_ json: String) { separate(); bytes.append(contentsOf: json.utf8) }
    public mutating func raw(bytes json: some Sequence<UInt8>) { separate(); bytes.append(contentsOf: json) }

    /// Microseconds written as a decimal number of milliseconds with three places: exact, no float.
    public mutating func milliseconds(microseconds us: Int64) {
        separate()
        let v = max(0, us)
        appendDecimal(v / 1000)
        bytes.append(UInt8(ascii: "."))
        let frac = v % 1000
        if frac < 100 { bytes.append(UInt8(ascii: "0")) }
        if frac < 10 { bytes.append(UInt8(ascii: "0")) }
        appendDecimal(frac)
    }

    public mutating func field(_ name: StaticString, _ value: String?) { if let value { key(name); string(value) } }
    public mutating func field<T: BinaryInteger>(_ name: StaticString, _ value: T?) { if let value { key(name); int(value) } }
    public mutating func field(_ name: StaticString, _ value: Bool?) { if let value { key(name); bool(value) } }
    /// A packet time as ISO-8601 text (`Timestamp.iso8601`), without a String on the way.
    public mutating func field(_ name: StaticString, time: Timestamp) {
        key(name)
        separate()
        let written: Bool? = time.withISO8601Bytes { text in
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: text)
            bytes.append(UInt8(ascii: "\""))
            return true
        }
        if written == nil { appendQuoted(time.iso8601) }
    }

    public mutating func field(dynamic name: String, _ value: String?) { if let value { key(dynamic: name); string(value) } }
    public mutating func field<T: BinaryInteger>(dynamic name: String, _ value: T?) { if let value { key(dynamic: name); int(value) } }

    private mutating func separate() {
        if afterKey { afterKey = false; return }
        guard let last = hasValue.last else { return }
        if last { bytes.append(UInt8(ascii: ",")) }
        hasValue[hasValue.count - 1] = true
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func appendQuoted(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { utf8 in
            let n = utf8.count
            var runStart = 0
            var i = 0
            while i < n {
                // Most bytes need nothing: find the next one that may (control, quote,
                // backslash, or the first byte of U+2028/U+2029) and copy the run before it whole.
                let b = utf8[i]
                if b >= 0x20 && b != 0x22 && b != 0x5C && b != 0xE2 { i += 1; continue }
                if b == 0xE2 {
                    guard i + 2 < n, utf8[i + 1] == 0x80, utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9 else { i += 1; continue }
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                    bytes.append(contentsOf: (utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                    i += 3
                    runStart = i
                    continue
                }
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                bytes.append(0x5C)
                switch b {
                case 0x22: bytes.append(0x22)
                case 0x5C: bytes.append(0x5C)
                case 0x0A: bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(UInt8(ascii: "r"))
                case 0x09: bytes.append(UInt8(ascii: "t"))
                default:
                    bytes.append(UInt8(ascii: "u")); bytes.append(0x30); bytes.append(0x30)
                    bytes.append(JSONWriter.hex[Int(b >> 4)]); bytes.append(JSONWriter.hex[Int(b & 0xF)])
                }
                i += 1
                runStart = i
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<n]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
