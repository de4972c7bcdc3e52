// Value types shared by the JSON parser and its readers: limits, errors, kinds, node handles.

/// Bounds on what one `JSONDocument.parse` may consume. Every breach is a typed `JSONError`,
/// never a crash or an unbounded allocation.
public struct JSONLimits: Sendable, Equatable {
    /// Deepest nesting of arrays/objects; `[]` is depth 1, a bare scalar depth 0.
    public var maxDepth = 128
    /// Largest input accepted, in bytes (checked before any work is done).
    public var maxBytes = 16 << 20
    /// Most tape nodes: every value is one node and so is every object key.
    public var maxElements = 1_000_000
    /// Longest string, counted in raw bytes between the quotes (escapes not yet decoded).
    public var maxStringBytes = 8 << 20
    /// When true, invalid UTF-8 inside strings and unpaired `\uD800`-style surrogate escapes are
    /// rejected as `.invalid`. The default (false) accepts them and substitutes U+FFFD when the
    /// string is decoded: the servers MCP runs on (Node's `JSON.parse` on a decoded body, Python's
    /// `json` for lone surrogates) accept such text, so a sensor that dropped the whole message
    /// would hand an attacker a one-byte blind spot. `JSONDocument.hasUnicodeRepairs` reports it.
    public var strictUnicode = false

    public init() {}
}

/// Why a payload is not a usable JSON document.
public enum JSONError: Error, Equatable, Sendable {
    /// No bytes, or only whitespace.
    case empty
    /// Input longer than `JSONLimits.maxBytes`.
    case tooLarge
    /// Nesting deeper than `JSONLimits.maxDepth`.
    case tooDeep
    /// More tape nodes than `JSONLimits.maxElements`.
    case tooManyElements
    /// A string longer than `JSONLimits.maxStringBytes`.
    case stringTooLong
    /// Not RFC 8259 JSON: `offset` is the byte where parsing stopped, `reason` a short phrase.
    case invalid(offset: Int, reason: String)

    /// The `Counters` name for this error ("json.too_deep", ...), one per case.
    public var counterName: String {
        switch self {
        case .empty: return "json.empty"
        case .tooLarge: return "json.too_large"
        case .tooDeep: return "json.too_deep"
        case .tooManyElements: return "json.too_many_elements"
        case .stringTooLong: return "json.string_too_long"
        case .invalid: return "json.invalid"
        }
    }
}

/// The six JSON value kinds; `true` and `false` are both `.bool`.
public enum JSONKind: UInt8, Sendable {
    case object, array, string, number, bool, null
}

/// A handle to one node of a `JSONDocument`'s tape. Only meaningful with the document that
/// produced it; readers given a foreign or out-of-range handle answer as for a missing value.
public struct JSONRef: Hashable, Sendable {
    public let index: Int
    public init(index: Int) { self.index = index }
}

/// One tape entry. 20 bytes; offsets fit in 32 bits because inputs are capped well below 4 GiB.
@usableFromInline
struct JSONNode: Sendable {
    /// First byte of the value (the quote, bracket, sign or digit).
    var start: UInt32
    /// One past the last byte of the value.
    var end: UInt32
    /// Tape index just past this node's last descendant (index + 1 for scalars).
    var next: UInt32
    /// Containers: number of elements (arrays) or members (objects).
    var count: UInt32
    var kind: JSONKind
    var flags: UInt8

    /// String contains at least one backslash escape: decode the slow way.
    static let escaped: UInt8 = 1
    /// String contains invalid UTF-8 or an unpaired surrogate escape (replaced by U+FFFD).
    static let repaired: UInt8 = 2
    /// Number has neither fraction nor exponent.
    static let integer: UInt8 = 4
    /// Bool node whose value is `true`.
    static let isTrue: UInt8 = 8
    /// String node that is an object member's name.
    static let isKey: UInt8 = 16
}
