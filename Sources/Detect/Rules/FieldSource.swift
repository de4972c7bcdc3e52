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
public protocol FieldSource {
    func values(_ field: String) -> [FieldValue]
}

/// A fixed set of fields, for tests and for callers that already hold their values.
public struct StaticFields: FieldSource, Sendable {
    public var fields: [String: [FieldValue]]
    public init(_ fields: [String: [FieldValue]]) { self.fields = fields }
    public func values(_ field: String) -> [FieldValue] { fields[field] ?? [] }
}
