import SonarCore

/// What MCPSonar reads from a TLS ClientHello (RFC 8446 4.1.2, RFC 5246 7.4.1.2).
public struct TLSClientHello: Sendable, Equatable {
    /// The first `host_name` of the server_name extension (RFC 6066 3), lowercased ASCII without a
    /// trailing dot; `nil` when the extension is absent or names no usable host.
    public var serverName: String?
    /// Protocol names of the ALPN extension (RFC 7301), in the client's order, decoded as UTF-8
    /// (invalid bytes become U+FFFD).
    public var alpn: [String]
    /// The supported_versions extension (RFC 8446 4.2.1), in the client's order; empty when absent.
    public var supportedVersions: [UInt16]
    /// `legacy_version` of the ClientHello body (0x0303 for TLS 1.2 and 1.3).
    public var legacyVersion: UInt16

    public init(serverName: String? = nil, alpn: [String] = [], supportedVersions: [UInt16] = [], legacyVersion: UInt16) {
        self.serverName = serverName; self.alpn = alpn
        self.supportedVersions = supportedVersions; self.legacyVersion = legacyVersion
    }
}

/// Recognises a TLS connection from the first client→server bytes and reads its ClientHello.
/// One per connection, fed the bytes in order, cut anywhere; the handshake message may span
/// several TLS records.
///
/// Bounded: it holds at most a 5-byte record header and the handshake message, which must fit in
/// `limit` bytes (its 4-byte header included), so it never buffers more than
/// `min(limit, 4 + declared length)`. Anything that is not a handshake record of TLS 1.0–1.3
/// framing starting with a well-formed ClientHello is `.notTLS`, counted by reason:
/// `tls.not_handshake`, `tls.bad_version`, `tls.bad_record_length`, `tls.not_client_hello`,
/// `tls.too_long`, `tls.malformed`. SSLv2-compatible hellos are `.notTLS`.
public final class TLSClientHelloParser {
    public enum State: Sendable, Equatable { case needMore, done(TLSClientHello), notTLS }

    /// Largest TLSPlaintext fragment (RFC 8446 5.1).
    public static let maxRecordLength = 1 << 14

    public let limit: Int
    // Unchecked exclusivity (fed the first bytes of every client that starts like TLS): the
    // parser calls nothing outside itself, so no two accesses to its fields can overlap.
    @exclusivity(unchecked) public private(set) var state: State = .needMore
    @exclusivity(unchecked) public private(set) var counters = Counters()

    @exclusivity(unchecked) private var header: [UInt8] = []
    @exclusivity(unchecked) private var recordLeft = 0
    @exclusivity(unchecked) private var message: [UInt8] = []
    /// 4 + the declared handshake length, once known.
    @exclusivity(unchecked) private var messageSize = 0

    public init(limit: Int = 16384) { self.limit = max(0, limit) }

    /// Bytes held (capacity), for the engine's budget of application-layer buffers.
    public var bufferedBytes: Int { header.capacity + message.capacity }

    /// Feeds the next client→server bytes. After `.done` or `.notTLS` it returns the same state
    /// and reads nothing.
    public func feed(_ bytes: UnsafeRawBufferPointer) -> State {
        guard case .needMore = state else { return state }
        let n = bytes.count
        var off = 0
        while off < n {
            if recordLeft == 0 {
                header.append(bytes[off])
                off += 1
                switch header.count {
                case 1: guard header[0] == 22 else { return fail("tls.not_handshake") }
                case 2: guard header[1] == 3 else { return fail("tls.bad_version") }
                case 3: guard header[2] <= 4 else { return fail("tls.bad_version") }
                case 5:
                    let length = Int(header[3]) << 8 | Int(header[4])
                    guard length > 0 && length <= Self.maxRecordLength else { return fail("tls.bad_record_length") }
                    recordLeft = length
                    header.removeAll(keepingCapacity: true)
                default: break
                }
                continue
            }
            let wanted = (message.count < 4 ? 4 : messageSize) - message.count
            let take = min(wanted, recordLeft, n - off)
            message.append(contentsOf: bytes[off..<(off + take)])
            off += take
            recordLeft -= take
            if message.count == 4 && messageSize == 0 {
                guard message[0] == 1 else { return fail("tls.not_client_hello") }
                let length = Int(message[1]) << 16 | Int(message[2]) << 8 | Int(message[3])
                messageSize = 4 + length
                guard messageSize <= limit else { return fail("tls.too_long") }
                // version, random, session id, suites, compression: at least 2+32+1+2+2+1+1 bytes.
                guard length >= 41 else { return fail("tls.malformed") }
            }
            if messageSize > 0 && message.count == messageSize {
                let parsed: TLSClientHello
                do throws(TLSMalformed) {
                    parsed = try Self.parseBody(message[4...])
                } catch {
                    return fail("tls.malformed")
                }
                message = []
                state = .done(parsed)
                return state
            }
        }
        return state
    }

    private func fail(_ reason: String) -> State {
        counters.add(reason)
        header = []
        message = []
        state = .notTLS
        return state
    }

    struct TLSMalformed: Error {}

    /// A bounds-checked reader over the ClientHello body.
    struct Reader {
        let bytes: ArraySlice<UInt8>
        var pos: Int
        let end: Int
        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes; pos = bytes.startIndex; end = bytes.endIndex }
        init(_ bytes: ArraySlice<UInt8>, from: Int, to: Int) { self.bytes = bytes; pos = from; end = to }
        var remaining: Int { end - pos }
        mutating func u8() throws(TLSMalformed) -> Int {
            guard pos < end else { throw TLSMalformed() }
            defer { pos += 1 }
            return Int(bytes[pos])
        }
        mutating func u16() throws(TLSMalformed) -> Int {
            guard end - pos >= 2 else { throw TLSMalformed() }
            defer { pos += 2 }
            return Int(bytes[pos]) << 8 | Int(bytes[pos + 1])
        }
        mutating func skip(_ n: Int) throws(TLSMalformed) {
            guard n >= 0 && end - pos >= n else { throw TLSMalformed() }
            pos += n
        }
        /// A reader over the next `n` bytes, which this one skips.
        mutating func sub(_ n: Int) throws(TLSMalformed) -> Reader {
            guard n >= 0 && end - pos >= n else { throw TLSMalformed() }
            defer { pos += n }
            return Reader(bytes, from: pos, to: pos + n)
        }
        func slice() -> ArraySlice<UInt8> { bytes[pos..<end] }
    }

    static func parseBody(_ body: ArraySlice<UInt8>) throws(TLSMalformed) -> TLSClientHello {
        var r = Reader(body)
        let version = try r.u16()
        guard version >> 8 == 3 else { throw TLSMalformed() }
        try r.skip(32)                                   // random
        let sessionIDLength = try r.u8()
        guard sessionIDLength <= 32 else { throw TLSMalformed() }
        try r.skip(sessionIDLength)
        let suitesLength = try r.u16()
        guard suitesLength >= 2 && suitesLength % 2 == 0 else { throw TLSMalformed() }
        try r.skip(suitesLength)
        let compressionLength = try r.u8()
        guard compressionLength >= 1 else { throw TLSMalformed() }
        try r.skip(compressionLength)
        var hello = TLSClientHello(legacyVersion: UInt16(version))
        // Extensions are optional before TLS 1.3; when present their length covers the rest exactly.
        guard r.remaining > 0 else { return hello }
        let extensionsLength = try r.u16()
        guard extensionsLength == r.remaining else { throw TLSMalformed() }
        var seen: Set<Int> = []
        while r.remaining > 0 {
            let type = try r.u16()
            var data = try r.sub(try r.u16())
            // RFC 8446 4.2: an extension appears at most once.
            guard seen.insert(type).inserted else { throw TLSMalformed() }
            switch type {
            case 0: hello.serverName = try serverName(&data)
            case 16: hello.alpn = try alpn(&data)
            case 43: hello.supportedVersions = try supportedVersions(&data)
            default: break
            }
        }
        return hello
    }

    /// server_name: ServerNameList, the first host_name entry (RFC 6066 3). An empty extension
    /// (as a server sends it) names nothing.
    static func serverName(_ r: inout Reader) throws(TLSMalformed) -> String? {
        guard r.remaining > 0 else { return nil }
        var list = try r.sub(try r.u16())
        guard r.remaining == 0 else { throw TLSMalformed() }
        var name: String?
        while list.remaining > 0 {
            let nameType = try list.u8()
            let entry = try list.sub(try list.u16())
            guard nameType == 0, name == nil else { continue }
            name = hostName(entry.slice())
        }
        return name
    }

    /// A host name as sent: lowercased, trailing dot removed; `nil` unless it is 1–255 bytes of
    /// printable ASCII without spaces.
    static func hostName(_ bytes: ArraySlice<UInt8>) -> String? {
        var b = Array(bytes)
        if b.last == UInt8(ascii: ".") { b.removeLast() }
        guard !b.isEmpty, b.count <= 255, b.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        for i in b.indices where b[i] >= UInt8(ascii: "A") && b[i] <= UInt8(ascii: "Z") { b[i] |= 0x20 }
        return String(decoding: b, as: UTF8.self)
    }

    /// ALPN: ProtocolNameList of non-empty names (RFC 7301 3.1).
    static func alpn(_ r: inout Reader) throws(TLSMalformed) -> [String] {
        var list = try r.sub(try r.u16())
        guard r.remaining == 0, list.remaining > 0 else { throw TLSMalformed() }
        var names: [String] = []
        while list.remaining > 0 {
            let length = try list.u8()
            guard length > 0 else { throw TLSMalformed() }
            let name = try list.sub(length)
            names.append(String(decoding: name.slice(), as: UTF8.self))
        }
        return names
    }

    /// supported_versions in a ClientHello: a 1-byte length and 2-byte versions (RFC 8446 4.2.1).
    static func supportedVersions(_ r: inout Reader) throws(TLSMalformed) -> [UInt16] {
        let length = try r.u8()
        guard length >= 2, length % 2 == 0, length == r.remaining else { throw TLSMalformed() }
        var versions: [UInt16] = []
        while r.remaining > 0 { versions.append(UInt16(try r.u16())) }
        return versions
    }
}
