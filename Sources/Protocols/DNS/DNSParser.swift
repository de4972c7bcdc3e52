import SonarCore

/// Parses one DNS message (RFC 1035 4.1; AAAA from RFC 3596): the header, the question section
/// and the answer section. Only A, AAAA and CNAME answers of class IN are returned; every other
/// answer is skipped by its RDLENGTH. Authority and additional sections are not read.
///
/// Names are decompressed with two guards: a pointer must point strictly before the start of the
/// run of labels it ends (so every jump goes further back and no loop is possible), and at most
/// `maxPointerJumps` pointers are followed per name. Labels are at most 63 bytes (the length byte
/// has only six bits) and a name at most 255 bytes in wire form.
///
/// Names are returned lowercased (ASCII only) without a trailing dot, the root as `""`. Bytes
/// that are not printable ASCII, and `.` or `\` inside a label, are written as `\DDD` (decimal),
/// as `dig` does, so a name never silently merges two labels.
///
/// The parser never reads outside the buffer. A message with any defect (including truncation at
/// any byte) gives `nil` from `parse` and the reason from `parseResult`; there are no partial results.
public enum DNSParser {
    /// Pointers followed for one name before it is rejected as `.pointerLoop`.
    public static let maxPointerJumps = 32
    /// Longest name in wire form (RFC 1035 2.3.4), including the final zero byte.
    public static let maxNameWireBytes = 255
    static let headerBytes = 12
    static let classIN: UInt16 = 1

    /// The message, or `nil` when it is malformed or truncated (`parseResult` tells why).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> DNSMessage? {
        try? parseMessage(bytes)
    }

    /// The message, or why it was rejected (`DNSParseError.rawValue` is the counter name).
    public static func parseResult(_ bytes: UnsafeRawBufferPointer) -> Result<DNSMessage, DNSParseError> {
        do throws(DNSParseError) { return .success(try parseMessage(bytes)) } catch { return .failure(error) }
    }

    static func parseMessage(_ b: UnsafeRawBufferPointer) throws(DNSParseError) -> DNSMessage {
        guard b.count >= headerBytes else { throw .truncated }
        let id = b.readBE16(at: 0)
        let flags = b.readBE16(at: 2)
        let qdCount = Int(b.readBE16(at: 4))
        let anCount = Int(b.readBE16(at: 6))
        var msg = DNSMessage(id: id, isResponse: flags & 0x8000 != 0, rcode: UInt8(flags & 0x000F),
                             questions: [], answers: [])
        var pos = headerBytes
        for _ in 0..<qdCount {
            let (name, next) = try readName(b, at: pos)
            guard next + 4 <= b.count else { throw .truncated }
            msg.questions.append(DNSQuestion(name: name, type: b.readBE16(at: next)))
            pos = next + 4
        }
        for _ in 0..<anCount {
            let (name, next) = try readName(b, at: pos)
            // TYPE, CLASS, TTL, RDLENGTH
            guard next + 10 <= b.count else { throw .truncated }
            let type = b.readBE16(at: next)
            let rrClass = b.readBE16(at: next + 2)
            let ttl = b.readBE32(at: next + 4)
            let rdLength = Int(b.readBE16(at: next + 8))
            let rdStart = next + 10
            let rdEnd = rdStart + rdLength
            guard rdEnd <= b.count else { throw .truncated }
            pos = rdEnd
            guard rrClass == classIN else { continue }
            switch type {
            case DNSType.a:
                guard rdLength == 4 else { throw .badRData }
                msg.answers.append(DNSRecord(name: name, type: type, ttl: ttl, address: .read(v4: b, at: rdStart)))
            case DNSType.aaaa:
                guard rdLength == 16 else { throw .badRData }
                msg.answers.append(DNSRecord(name: name, type: type, ttl: ttl, address: .read(v6: b, at: rdStart)))
            case DNSType.cname:
                // The target may point anywhere before it, but its own bytes must lie in RDATA.
                let (target, end): (String, Int)
                do throws(DNSParseError) {
                    (target, end) = try readName(b, at: rdStart, limit: rdEnd)
                } catch {
                    throw error == .truncated ? .badRData : error
                }
                guard end == rdEnd else { throw .badRData }
                msg.answers.append(DNSRecord(name: name, type: type, ttl: ttl, target: target))
            default:
                continue
            }
        }
        return msg
    }

    /// Reads the name at `start`; returns it and the offset just after its inline bytes.
    /// Bytes of the name at `start` (before any pointer) must lie below `limit`; pointer targets
    /// may be anywhere before them in the message.
    static func readName(_ b: UnsafeRawBufferPointer, at start: Int, limit: Int? = nil) throws(DNSParseError) -> (String, Int) {
        var out: [UInt8] = []
        var pos = start
        var end: Int?               // offset after the inline part, set at the first pointer or the end
        var runStart = start        // where the current run of labels began
        var jumps = 0
        var wireBytes = 0
        while true {
            // Before the first pointer, bytes are bounded by `limit`; after it, by the message.
            let bound = end == nil ? min(limit ?? b.count, b.count) : b.count
            guard pos < bound else { throw .truncated }
            let length = Int(b[pos])
            switch length >> 6 {
            case 0:
                wireBytes += 1 + length
                guard wireBytes <= maxNameWireBytes else { throw .nameTooLong }
                if length == 0 {
                    return (String(decoding: out, as: UTF8.self), end ?? pos + 1)
                }
                guard pos + 1 + length <= bound else { throw .truncated }
                if !out.isEmpty { out.append(UInt8(ascii: ".")) }
                for i in (pos + 1)..<(pos + 1 + length) { appendEscaped(b[i], to: &out) }
                pos += 1 + length
            case 3:
                guard pos + 2 <= bound else { throw .truncated }
                let target = Int(b.readBE16(at: pos) & 0x3FFF)
                guard target < runStart else { throw .badPointer }
                jumps += 1
                guard jumps <= maxPointerJumps else { throw .pointerLoop }
                if end == nil { end = pos + 2 }
                pos = target
                runStart = target
            default:
                throw .badLabelType
            }
        }
    }

    @inline(__always)
    static func appendEscaped(_ c: UInt8, to out: inout [UInt8]) {
        switch c {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"):
            out.append(c | 0x20)
        case UInt8(ascii: "."), UInt8(ascii: "\\"):
            escape(c, to: &out)
        case 0x21...0x7E:
            out.append(c)
        default:
            escape(c, to: &out)
        }
    }

    static func escape(_ c: UInt8, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\\"))
        out.append(UInt8(ascii: "0") + c / 100)
        out.append(UInt8(ascii: "0") + (c / 10) % 10)
        out.append(UInt8(ascii: "0") + c % 10)
    }
}
