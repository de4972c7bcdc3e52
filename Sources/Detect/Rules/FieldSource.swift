// What a Sigma rule sees of a message: named fields, each with zero or more values.

/// One value of a field as a rule compares it.
public enum FieldValue: Sendable, Equatable {
    /// A string (JSON strings unescaped, header values, event fields such as `mcp.method`).
    case string(String)
    /// A number, as its text was sent (`1.50E+3` stays `1.50E+3`); compared numerically by
    /// numeric values and `gt`/`gte`/`lt`/`lte`, and by its text by string patterns.
    case number(String)
    case bool(Bool)
    /// JSON `null`. A rule value of `null` matches this and an absent field.
    case null
    /// A JSON object or array: present, so it satisfies `exists: true`, but it matches no value.
    case container
}

/// Where a rule reads its fields from. `values` returns `[]` when the field is absent and one
/// value per element when a path fans out over arrays (`mcp.result.tools[].name`).
///
/// The engine itself calls `forEachValue(_:_:)` with a `FieldKey` compiled at load; its default
/// goes through `values(_:)`. `MessageFields` implements it directly: no name hashing, no path
/// parsing and no array per lookup.
public protocol FieldSource {
    func values(_ field: String) -> [FieldValue]
    /// Calls `body` on each value of the field in order until it returns true; returns true if
    /// it did (false for an absent field).
    func forEachValue(_ key: FieldKey, _ body: (FieldValue) -> Bool) -> Bool
}

extension FieldSource {
    public func forEachValue(_ key: FieldKey, _ body: (FieldValue) -> Bool) -> Bool {
        for v in values(key.name) where body(v) { return true }
        return false
    }
}

/// A field name resolved once, when its rule is loaded.
public struct FieldKey: Sendable, Hashable {
    /// The field name as the rule wrote it (`mcp.result.tools[].name`).
    public let name: String
    let path: FieldPath

    /// Resolves `name`; an unknown name resolves to nothing (`MessageFields` has no value for it).
    public init(_ name: String) {
        self.name = name
        self.path = FieldPath(name)
    }
}

/// Where `MessageFields` finds a field.
enum FieldPath: Sendable, Hashable {
    case event(MessageFieldVocabulary.EventField)
    case json(JSONRoot, [PathSegment])
    case header(String)
    case unknown

    enum JSONRoot: Sendable, Hashable { case params, result, error }
    enum PathSegment: Sendable, Hashable {
        /// `name`
        case member(String)
        /// `name[]`
        case elements(String)
        /// `*`
        case each
        /// `name{}` (last segment only)
        case keys(String)
    }

    init(_ name: String) {
        if let f = MessageFieldVocabulary.eventFields[name] { self = .event(f); return }
        if name.hasPrefix("http.headers.") {
            let header = name.dropFirst("http.headers.".count)
            self = header.isEmpty ? .unknown : .header(String(header))
            return
        }
        let roots: [(String, JSONRoot)] = [("mcp.params", .params), ("mcp.result", .result), ("mcp.error", .error)]
        for (prefix, root) in roots where name.hasPrefix(prefix) {
            let rest = name.dropFirst(prefix.count)
            if rest.isEmpty { self = .json(root, []); return }
            guard rest.first == ".", JSONFieldPath.problem(with: rest.dropFirst()) == nil else { break }
            var segments: [PathSegment] = []
            for seg in rest.dropFirst().split(separator: ".", omittingEmptySubsequences: false) {
                if seg == "*" { segments.append(.each) }
                else if seg.hasSuffix("[]") { segments.append(.elements(String(seg.dropLast(2)))) }
                else if seg.hasSuffix("{}") { segments.append(.keys(String(seg.dropLast(2)))) }
                else { segments.append(.member(String(seg))) }
            }
            self = .json(root, segments)
            return
        }
        self = .unknown
    }
}

/// A fixed set of fields, for tests and for callers that already hold their values.
public struct StaticFields: FieldSource, Sendable {
    public var fields: [String: [FieldValue]]
    public init(_ fields: [String: [FieldValue]]) { self.fields = fields }
    public func values(_ field: String) -> [FieldValue] { fields[field] ?? [] }
}
