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

    /// Writes `"name":` — the value follows with one of the value calls.
    public mutating func key(_ name: String) {
        separate()
        appendQuoted(name)
        bytes.append(UInt8(ascii: ":"))
        afterKey = true
    }

    /// Set between a key and its value, so the value adds no comma.
    private var afterKey = false

    public mutating func string(_ s: String) { separate(); appendQuoted(s) }
    public mutating func int<T: BinaryInteger>(_ v: T) { separate(); bytes.append(contentsOf: String(v).utf8) }
    public mutating func bool(_ v: Bool) { separate(); bytes.append(contentsOf: (v ? "true" : "false").utf8) }
    public mutating func null() { separate(); bytes.append(contentsOf: "null".utf8) }
    /// A value that is already valid JSON text (a number as sent, a compacted message).
    public mutating func raw(_ json: String) { separate(); bytes.append(contentsOf: json.utf8) }
    public mutating func raw(bytes json: some Sequence<UInt8>) { separate(); bytes.append(contentsOf: json) }

    /// Microseconds written as a decimal number of milliseconds with three places: exact, no float.
    public mutating func milliseconds(microseconds us: Int64) {
        separate()
        let v = max(0, us)
        bytes.append(contentsOf: String(v / 1000).utf8)
        bytes.append(UInt8(ascii: "."))
        let frac = v % 1000
        if frac < 100 { bytes.append(UInt8(ascii: "0")) }
        if frac < 10 { bytes.append(UInt8(ascii: "0")) }
        bytes.append(contentsOf: String(frac).utf8)
    }

    public mutating func field(_ name: String, _ value: String?) { if let value { key(name); string(value) } }
    public mutating func field<T: BinaryInteger>(_ name: String, _ value: T?) { if let value { key(name); int(value) } }
    public mutating func field(_ name: String, _ value: Bool?) { if let value { key(name); bool(value) } }

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
            var runStart = 0
            var i = 0
            while i < utf8.count {
                let b = utf8[i]
                var escape: [UInt8]? = nil
                if b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                    switch b {
                    case UInt8(ascii: "\""): escape = [0x5C, 0x22]
                    case UInt8(ascii: "\\"): escape = [0x5C, 0x5C]
                    case 0x0A: escape = [0x5C, UInt8(ascii: "n")]
                    case 0x0D: escape = [0x5C, UInt8(ascii: "r")]
                    case 0x09: escape = [0x5C, UInt8(ascii: "t")]
                    default:
                        escape = [0x5C, UInt8(ascii: "u"), 0x30, 0x30, JSONWriter.hex[Int(b >> 4)], JSONWriter.hex[Int(b & 0xF)]]
                    }
                } else if b == 0xE2, i + 2 < utf8.count, utf8[i + 1] == 0x80, utf8[i + 2] == 0xA8 || utf8[i + 2] == 0xA9 {
                    escape = Array((utf8[i + 2] == 0xA8 ? "\\u2028" : "\\u2029").utf8)
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                    bytes.append(contentsOf: escape ?? [])
                    i += 3
                    runStart = i
                    continue
                }
                if let escape {
                    bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<i]))
                    bytes.append(contentsOf: escape)
                    runStart = i + 1
                }
                i += 1
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[runStart..<utf8.count]))
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
