// Incremental plausibility check of an HTTP/1.x start line, used both to decide whether a
// connection speaks HTTP and to find the next message after an error or a gap.
import SonarCore

/// Checks a start line byte by byte as it arrives, so garbage is rejected after a few bytes
/// instead of being buffered up to the header limit. The caller feeds the bytes before the LF.
struct StartLineValidator {
    /// Request line: `token SP target SP HTTP/1.d [CR]`; status line: `HTTP/1.d SP ddd [SP reason] [CR]`.
    let isRequest: Bool
    private var phase = 0
    private var count = 0
    /// The method's bytes packed big-endian (first 8), for the known-method check.
    private var method: UInt64 = 0
    /// Accept only registered methods: set for candidates found in the middle of a line while
    /// resynchronising, where "ST /x HTTP/1.1" may be the tail of a request cut by a gap.
    var requireKnownMethod = false
    private static let httpPrefix: [UInt8] = Array("HTTP/1.".utf8)
    private static let knownMethods: Set<UInt64> = Set(
        ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"].map { pack($0) })

    private static func pack(_ s: String) -> UInt64 { s.utf8.reduce(0) { $0 << 8 | UInt64($1) } }

    init(direction: Direction) { isRequest = direction == .toServer }

    mutating func reset() { phase = 0; count = 0; method = 0; requireKnownMethod = false }

    /// Feeds more bytes of the line (no LF). Returns the index of the first byte that makes the
    /// line invalid, or nil while it is still plausible.
    mutating func feed(_ bytes: UnsafeRawBufferPointer) -> Int? {
        for k in 0..<bytes.count {
            if !(isRequest ? stepRequest(bytes[k]) : stepStatus(bytes[k])) { phase = -1; return k }
        }
        return nil
    }

    /// Nothing fed since the last reset (a resync may have set `requireKnownMethod`).
    var isFresh: Bool { phase == 0 && count == 0 }

    /// Whether `line` (the bytes before its LF), fed whole to a fresh validator, would pass
    /// `finish`: the same grammar read in one pass, for the common case of a whole start line in
    /// one delivery (byte by byte, each step a switch on the phase, it cost about 800
    /// instructions a head). `wholeLineAgreesWithFeed` checks it against `feed`.
    func acceptsWhole(_ line: UnsafeRawBufferPointer) -> Bool {
        isRequest ? acceptsRequestLine(line) : acceptsStatusLine(line)
    }

    /// `token SP target SP HTTP/1.d [CR]`.
    private func acceptsRequestLine(_ line: UnsafeRawBufferPointer) -> Bool {
        let n = line.count
        var i = 0
        var packed: UInt64 = 0
        while i < n && line[i] != 32 {
            guard isTokenChar(line[i]), i < 32 else { return false }
            packed = packed << 8 | UInt64(line[i])
            i += 1
        }
        guard i > 0, i < n else { return false }
        if requireKnownMethod && (i > 8 || !StartLineValidator.knownMethods.contains(packed)) { return false }
        i += 1
        let targetStart = i
        while i < n && line[i] != 32 {
            guard line[i] > 32 && line[i] != 127 else { return false }
            i += 1
        }
        guard i > targetStart, i < n else { return false }
        // What follows the second space: "HTTP/1." and a digit, then a CR or nothing.
        let rest = n - (i + 1)
        guard rest == 8 || (rest == 9 && line[n - 1] == 13) else { return false }
        return Self.versionAt(line, i + 1)
    }

    /// `HTTP/1.d SP ddd [SP reason] [CR]`, the reason holding no CR but at its end.
    private func acceptsStatusLine(_ line: UnsafeRawBufferPointer) -> Bool {
        let n = line.count
        guard n >= 12, Self.versionAt(line, 0), line[8] == 32 else { return false }
        for k in 9..<12 where !(line[k] >= 48 && line[k] <= 57) { return false }
        if n == 12 { return true }
        if line[12] == 13 { return n == 13 }
        guard line[12] == 32 else { return false }
        var k = 13
        while k < n - 1 {
            if line[k] == 13 { return false }
            k += 1
        }
        return true
    }

    /// "HTTP/1." and a digit at `at` (eight bytes there).
    private static func versionAt(_ line: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        guard at + 8 <= line.count else { return false }
        for k in 0..<7 where line[at + k] != httpPrefix[k] { return false }
        return line[at + 7] >= 48 && line[at + 7] <= 57
    }

    /// The line ended: is it a complete, valid start line?
    func finish() -> Bool {
        isRequest ? (phase == 4 || phase == 5) : (phase >= 4 && phase <= 6)
    }

    private mutating func stepRequest(_ b: UInt8) -> Bool {
        switch phase {
        case 0:  // method
            if b == 32 {
                guard count > 0 else { return false }
                if requireKnownMethod && (count > 8 || !StartLineValidator.knownMethods.contains(method)) { return false }
                phase = 1
                count = 0
                return true
            }
            count += 1
            method = method << 8 | UInt64(b)
            return isTokenChar(b) && count <= 32
        case 1:  // request target: visible characters (obs-text tolerated)
            if b == 32 { guard count > 0 else { return false }; phase = 2; count = 0; return true }
            count += 1
            return b > 32 && b != 127
        case 2:  // "HTTP/1."
            guard b == StartLineValidator.httpPrefix[count] else { return false }
            count += 1
            if count == 7 { phase = 3 }
            return true
        case 3:
            guard b >= 48 && b <= 57 else { return false }
            phase = 4
            return true
        case 4:
            guard b == 13 else { return false }
            phase = 5
            return true
        default:
            return false
        }
    }

    private mutating func stepStatus(_ b: UInt8) -> Bool {
        switch phase {
        case 0:
            guard b == StartLineValidator.httpPrefix[count] else { return false }
            count += 1
            if count == 7 { phase = 1; count = 0 }
            return true
        case 1:
            guard b >= 48 && b <= 57 else { return false }
            phase = 2
            return true
        case 2:
            guard b == 32 else { return false }
            phase = 3
            return true
        case 3:  // three-digit status
            guard b >= 48 && b <= 57 else { return false }
            count += 1
            if count == 3 { phase = 4 }
            return true
        case 4:
            if b == 32 { phase = 5; return true }
            if b == 13 { phase = 6; return true }
            return false
        case 5:  // reason phrase: anything but a bare CR in the middle
            if b == 13 { phase = 6 }
            return true
        default:
            return false
        }
    }
}

/// RFC 9110 tchar: digits, letters and ``!#$%&'*+-.^_`|~``, as a bit per byte value (a header
/// line's name is checked byte by byte; the switch this replaced cost several branches a byte).
/// `tokenCharsAgreeWithRFC9110` checks the bits against the list.
@inline(__always)
func isTokenChar(_ b: UInt8) -> Bool {
    let bits: UInt64 = b < 64 ? 0x03FF_6CFA_0000_0000 : (b < 128 ? 0x57FF_FFFF_C7FF_FFFE : 0)
    return (bits >> UInt64(b & 63)) & 1 != 0
}
