import SonarCore

/// DNS record types this layer decodes (RFC 1035 3.2.2, RFC 3596 2.1).
public enum DNSType {
    public static let a: UInt16 = 1
    public static let cname: UInt16 = 5
    public static let aaaa: UInt16 = 28
}

/// One entry of a message's question section.
public struct DNSQuestion: Sendable, Equatable {
    /// Lowercased, no trailing dot; the root is `""`. See `DNSParser` for how odd bytes are written.
    public var name: String
    public var type: UInt16
    public init(name: String, type: UInt16) { self.name = name; self.type = type }
}

/// One answer record of class IN whose type is A, AAAA or CNAME (other records are skipped).
public struct DNSRecord: Sendable, Equatable {
    /// Owner name: lowercased, no trailing dot.
    public var name: String
    public var type: UInt16
    public var ttl: UInt32
    /// The address of an A or AAAA record.
    public var address: IPAddress?
    /// The canonical name of a CNAME record (lowercased, no trailing dot).
    public var target: String?

    public init(name: String, type: UInt16, ttl: UInt32, address: IPAddress? = nil, target: String? = nil) {
        self.name = name; self.type = type; self.ttl = ttl; self.address = address; self.target = target
    }
}

/// The parts of a DNS message MCPSonar reads: the header fields below, the questions and the
/// answers. Authority and additional sections are not decoded.
public struct DNSMessage: Sendable, Equatable {
    public var id: UInt16
    /// The QR bit.
    public var isResponse: Bool
    /// The 4-bit RCODE of the header (0 = no error, 3 = NXDOMAIN).
    public var rcode: UInt8
    public var questions: [DNSQuestion]
    public var answers: [DNSRecord]

    public init(id: UInt16, isResponse: Bool, rcode: UInt8, questions: [DNSQuestion], answers: [DNSRecord]) {
        self.id = id; self.isResponse = isResponse; self.rcode = rcode
        self.questions = questions; self.answers = answers
    }
}

/// Why a DNS message was rejected. `rawValue` is the counter name.
public enum DNSParseError: String, Error, Sendable, Equatable {
    /// The message ends inside the header, a name, a question or a record.
    case truncated = "dns.truncated"
    /// A compression pointer that does not point strictly before the labels it continues
    /// (forward pointers, self-pointers and loops).
    case badPointer = "dns.bad_pointer"
    /// More than `DNSParser.maxPointerJumps` pointers followed for one name.
    case pointerLoop = "dns.pointer_loop"
    /// A label whose two top bits are `01` or `10` (extended/reserved label types).
    case badLabelType = "dns.bad_label_type"
    /// A name longer than 255 bytes in wire form.
    case nameTooLong = "dns.name_too_long"
    /// An A record whose data is not 4 bytes, AAAA not 16, or a CNAME whose name overruns its data.
    case badRData = "dns.bad_rdata"
}
