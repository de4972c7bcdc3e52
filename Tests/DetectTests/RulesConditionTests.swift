import Testing
@testable import SonarDetect

// Condition parsing (precedence, quantifiers, parentheses) and its evaluation.

@Suite struct RulesConditionTests {
    static let abc = "a:\n  mcp.tool: a\nb:\n  mcp.method: b\nc:\n  mcp.kind: c\n"

    func f(_ a: Bool, _ b: Bool, _ c: Bool) -> StaticFields {
        var d: [String: [FieldValue]] = [:]
        if a { d["mcp.tool"] = [.string("a")] }
        if b { d["mcp.method"] = [.string("b")] }
        if c { d["mcp.kind"] = [.string("c")] }
        return StaticFields(d)
    }

    func parse(_ text: String, _ names: [String] = ["a", "b", "c"]) -> ConditionNode? {
        try? ConditionParser.parse(text, selections: names)
    }

    @Test func precedenceNotAndOr() throws {
        // `a or b and not c` is `a or (b and (not c))`.
        #expect(parse("a or b and not c") == .or([.selection(0), .and([.selection(1), .not(.selection(2))])]))
        let r = try rule(Self.abc + "condition: a or b and not c")
        #expect(r.matches(f(true, false, true)))   // a alone suffices
        #expect(r.matches(f(false, true, false)))  // b and not c
        #expect(!r.matches(f(false, true, true)))  // b but c
        #expect(!r.matches(f(false, false, false)))
    }

    @Test func parenthesesOverridePrecedence() throws {
        #expect(parse("(a or b) and not c") == .and([.or([.selection(0), .selection(1)]), .not(.selection(2))]))
        let r = try rule(Self.abc + "condition: (a or b) and not c")
        #expect(!r.matches(f(true, false, true)))
        #expect(r.matches(f(true, false, false)))
        #expect(parse("not not a") == .not(.not(.selection(0))))
        #expect(parse("NOT a AND b") == .and([.not(.selection(0)), .selection(1)]))
        #expect(parse("((a))") == .selection(0))
    }

    @Test func oneOfPattern() throws {
        let names = ["sel_a", "sel_b", "filter"]
        #expect(parse("1 of sel_*", names) == .or([.selection(0), .selection(1)]))
        #expect(parse("any of sel*", names) == .or([.selection(0), .selection(1)]))
        #expect(parse("1 of filter", names) == .selection(2))
        let r = try rule("sel_a:\n  mcp.tool: a\nsel_b:\n  mcp.method: b\nfilter:\n  mcp.kind: c\ncondition: 1 of sel_* and not filter")
        #expect(r.matches(f(false, true, false)))
        #expect(r.matches(f(true, false, false)))
        #expect(!r.matches(f(true, true, true)))
        #expect(!r.matches(f(false, false, false)))
    }

    @Test func allOfPatternAndThem() throws {
        let names = ["sel_a", "sel_b", "_helper"]
        #expect(parse("all of sel_*", names) == .and([.selection(0), .selection(1)]))
        #expect(parse("all of them", names) == .and([.selection(0), .selection(1)]))  // `_` names are left out
        #expect(parse("1 of them", names) == .or([.selection(0), .selection(1)]))
        let all = try rule(Self.abc + "condition: all of them")
        #expect(all.matches(f(true, true, true)))
        #expect(!all.matches(f(true, true, false)))
        let one = try rule(Self.abc + "condition: 1 of them")
        #expect(one.matches(f(false, false, true)))
        #expect(!one.matches(f(false, false, false)))
    }

    @Test func conditionListIsOr() throws {
        let r = try rule(Self.abc + "condition:\n  - a and b\n  - c")
        #expect(r.matches(f(false, false, true)))
        #expect(r.matches(f(true, true, false)))
        #expect(!r.matches(f(true, false, false)))
    }

    @Test func parseErrorsCarryOffsets() {
        func err(_ t: String) -> ConditionError? {
            do { _ = try ConditionParser.parse(t, selections: ["a", "b"]); return nil } catch { return error }
        }
        #expect(err("a and x") == ConditionError(offset: 6, reason: "condition references unknown selection 'x'"))
        #expect(err("a and") == ConditionError(offset: 5, reason: "condition ends where a selection, 'not', '(' or 'x of' was expected"))
        #expect(err("(a or b") == ConditionError(offset: 7, reason: "missing ')' for the '(' at offset 0"))
        #expect(err("a b") == ConditionError(offset: 2, reason: "unexpected 'b' in condition"))
        #expect(err("a)") == ConditionError(offset: 1, reason: "unexpected ')' in condition"))
        #expect(err("2 of a") == ConditionError(offset: 0, reason: "'2 of' is not supported: use '1 of' or 'all of'"))
        #expect(err("1 of z*") == ConditionError(offset: 5, reason: "condition references unknown selection 'z*'"))
        #expect(err("a*") == ConditionError(offset: 0, reason: "a pattern 'a*' needs '1 of' or 'all of' before it"))
        #expect(err("a or or b") == ConditionError(offset: 5, reason: "unexpected 'or' where a selection was expected"))
        #expect(err(String(repeating: "(", count: 65) + "a" + String(repeating: ")", count: 65))
            == ConditionError(offset: 64, reason: "condition nested deeper than 64"))
    }
}
