extension SigmaRule {
    /// Where a matched rule looked: a JSON pointer to the deepest message field tested by a
    /// selection that matched (`mcp.params.requestedSchema.properties{}` → `/params/requestedSchema/properties`),
    /// or nil when the rule tests only event fields. Array and key markers end the pointer there:
    /// the rule matched somewhere inside.
    func evidencePointer(_ fields: any FieldSource) -> String? {
        var best: [Substring] = []
        for selection in detection.selections where selection.matches(fields) {
            for tests in selection.alternatives {
                for t in tests {
                    var parts = t.field.split(separator: ".")
                    guard parts.count > 1, parts[0] == "mcp", ["params", "result", "error"].contains(parts[1]) else { continue }
                    parts.removeFirst()
                    var kept: [Substring] = []
                    for p in parts {
                        if p.hasSuffix("[]") || p.hasSuffix("{}") { kept.append(p.dropLast(2)); break }
                        if p == "*" { break }
                        kept.append(p)
                    }
                    if kept.count > best.count { best = kept }
                }
            }
        }
        guard !best.isEmpty else { return nil }
        return "/" + best.map { $0.replacing("~", with: "~0").replacing("/", with: "~1") }.joined(separator: "/")
    }
}
