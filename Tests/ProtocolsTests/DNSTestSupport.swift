import SonarCore
@testable import SonarProtocols

/// Builds DNS messages byte by byte, so each test shows exactly what is on the wire.
struct DNSBuilder {
    var bytes: [UInt8] = []

    init() {}

    /// A header: id, flags, then the four section counts.
    init(id: UInt16, flags: UInt16, qd: UInt16, an: UInt16, ns: UInt16 = 0, ar: UInt16 = 0) {
        for v in [id, flags, qd, an, ns, ar] { u16(v) }
    }

    var offset: Int { bytes.count }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { bytes += [UInt8(v >> 8), UInt8(v & 0xFF)] }
    mutating func u32(_ v: UInt32) { u16(UInt16(v >> 16)); u16(UInt16(v & 0xFFFF)) }
    mutating func raw(_ b: [UInt8]) { bytes += b }

    /// Labels of a dotted name, without the terminating zero.
    mutating func labels(_ name: String) {
        for label in name.split(separator: ".") {
            u8(UInt8(label.utf8.count))
            raw(Array(label.utf8))
        }
    }
    /// A full uncompressed name: labels and the zero byte.
    mutating func name(_ name: String) { labels(name); u8(0) }
    mutating func pointer(_ to: Int) { u16(0xC000 | UInt16(to)) }

    mutating func question(_ name: String, type: UInt16) { self.name(name); u16(type); u16(1) }

    /// TYPE, CLASS IN, TTL and RDLENGTH for a record whose owner name was just written.
    mutating func recordHeader(type: UInt16, ttl: UInt32, rdLength: Int, rrClass: UInt16 = 1) {
        u16(type); u16(rrClass); u32(ttl); u16(UInt16(rdLength))
    }
}

extension IPAddress {
    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress {
        .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d))
    }
}

func dnsParse(_ bytes: [UInt8]) -> Result<DNSMessage, DNSParseError> {
    bytes.withUnsafeBytes { DNSParser.parseResult($0) }
}
