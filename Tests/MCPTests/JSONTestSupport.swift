import SonarMCP

/// Parses UTF-8 text.
func parseJSON(_ text: String, _ limits: JSONLimits = .init()) throws(JSONError) -> JSONDocument {
    try JSONDocument.parse(Array(text.utf8), limits: limits)
}

/// The error a parse ends with, or nil if it succeeds.
func parseError(_ bytes: [UInt8], _ limits: JSONLimits = .init()) -> JSONError? {
    do throws(JSONError) {
        _ = try JSONDocument.parse(bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

func parseError(_ text: String, _ limits: JSONLimits = .init()) -> JSONError? {
    parseError(Array(text.utf8), limits)
}

/// A plain tree of a document's values, for comparing structures.
indirect enum Tree: Equatable {
    case object([Member])
    case array([Tree])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    struct Member: Equatable {
        var key: String
        var value: Tree
    }

    init(_ d: JSONDocument, _ r: JSONRef) {
        switch d.kind(r) {
        case .object: self = .object(d.members(r).map { Member(key: $0.key, value: Tree(d, $0.value)) })
        case .array: self = .array(d.elements(r).map { Tree(d, $0) })
        case .string: self = .string(d.string(r) ?? "<nil>")
        case .number: self = .number(d.numberText(r) ?? "<nil>")
        case .bool: self = .bool(d.bool(r) ?? false)
        case .null: self = .null
        }
    }
}

/// SplitMix64: a small deterministic PRNG so fuzz runs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
