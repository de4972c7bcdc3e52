// One `field|modifiers: value(s)` line of a selection, compiled.

/// A compiled `re` value. Swift's `Regex` is not declared `Sendable`, yet it is an immutable
/// value whose lowered program is built once, atomically; the loader runs each regex once
/// at load so that build happens before the rule set is shared between threads.
struct CompiledRegex: @unchecked Sendable {
    let regex: Regex<AnyRegexOutput>
    init(_ regex: Regex<AnyRegexOutput>) {
        self.regex = regex
        _ = "".contains(regex)
    }
}

/// What one rule value asks of one field value.
indirect enum ValueTest: Sendable {
    /// The field is absent or null (`field: null`).
    case null
    /// String patterns (also tried on the text of numbers and booleans). Several patterns are
    /// alternatives (the variants `base64offset` produces).
    case text([WildcardPattern])
    /// A plain number: equal by value to a number, equal by text to a string.
    case number(Double, String)
    /// A plain boolean: equal to a boolean, or to the string `true`/`false` in any case.
    case bool(Bool)
    /// `re`: a search (unanchored) anywhere in the text.
    case regex(CompiledRegex)
    case cidr(CIDRBlock)
    case compare(Comparison, Double)

    enum Comparison: Sendable { case gt, gte, lt, lte }

    func matches(_ v: FieldValue) -> Bool {
        switch self {
        case .null:
            return v == .null
        case .text(let patterns):
            guard let t = Self.text(v) else { return false }
            return WildcardPattern.matchesAny(patterns, t)
        case .number(let d, let text):
            switch v {
            case .number(let t): return Double(t) == d
            case .string(let s): return s == text
            default: return false
            }
        case .bool(let b):
            switch v {
            case .bool(let x): return x == b
            case .string(let s): return s.lowercased() == (b ? "true" : "false")
            default: return false
            }
        case .regex(let re):
            guard let t = Self.text(v) else { return false }
            return t.contains(re.regex)
        case .cidr(let block):
            guard case .string(let s) = v else { return false }
            return block.contains(text: s)
        case .compare(let op, let bound):
            let x: Double?
            switch v {
            case .number(let t): x = Double(t)
            case .string(let s): x = Double(s)
            default: x = nil
            }
            guard let x, !x.isNaN else { return false }
            switch op {
            case .gt: return x > bound
            case .gte: return x >= bound
            case .lt: return x < bound
            case .lte: return x <= bound
            }
        }
    }

    private static func text(_ v: FieldValue) -> String? {
        switch v {
        case .string(let s), .number(let s): return s
        case .bool(let b): return b ? "true" : "false"
        case .null, .container: return nil
        }
    }
}

/// A compiled `field|modifiers: values` entry (a class: evaluation passes references, not copies).
final class FieldTest: Sendable {
    let key: FieldKey
    /// `exists: true|false`: only presence is tested.
    let exists: Bool?
    let tests: [ValueTest]
    /// `|all`: every value must be matched (each by some value of the field); otherwise any.
    let all: Bool

    var field: String { key.name }

    init(field: String, exists: Bool?, tests: [ValueTest], all: Bool) {
        self.key = FieldKey(field)
        self.exists = exists
        self.all = all
        // Without `all` the values are alternatives: string patterns are merged into one test
        // so that a field value is prepared once for all of them.
        if all {
            self.tests = tests
        } else {
            var merged: [ValueTest] = []
            var patterns: [WildcardPattern] = []
            for t in tests {
                if case .text(let ps) = t { patterns.append(contentsOf: ps) } else { merged.append(t) }
            }
            if !patterns.isEmpty { merged.insert(.text(patterns), at: 0) }
            self.tests = merged
        }
    }

    func matches(_ fields: any FieldSource) -> Bool {
        if let exists { return fields.forEachValue(key) { _ in true } == exists }
        if all {
            for i in tests.indices where !test(tests[i], fields) { return false }
            return true
        }
        for i in tests.indices where test(tests[i], fields) { return true }
        return false
    }

    @inline(__always)
    private func test(_ t: ValueTest, _ fields: any FieldSource) -> Bool {
        if case .null = t {
            var present = false
            let null = fields.forEachValue(key) { v in present = true; return v == .null }
            return null || !present
        }
        return fields.forEachValue(key) { t.matches($0) }
    }
}

/// A selection: alternatives (a list of maps), each an AND of field tests (one map).
final class Selection: Sendable {
    let name: String
    let alternatives: [[FieldTest]]

    init(name: String, alternatives: [[FieldTest]]) { self.name = name; self.alternatives = alternatives }

    func matches(_ fields: any FieldSource) -> Bool {
        alternatives: for tests in alternatives {
            for t in tests where !t.matches(fields) { continue alternatives }
            return true
        }
        return false
    }
}

extension ConditionNode {
    func evaluate(_ selections: [Selection], _ fields: any FieldSource) -> Bool {
        switch self {
        case .selection(let i): return i < selections.count && selections[i].matches(fields)
        case .not(let c): return !c.evaluate(selections, fields)
        case .and(let cs): return cs.allSatisfy { $0.evaluate(selections, fields) }
        case .or(let cs): return cs.contains { $0.evaluate(selections, fields) }
        }
    }
}
