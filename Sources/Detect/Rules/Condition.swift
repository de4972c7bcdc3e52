// Sigma `condition` expressions: tokens, a precedence parser, and the tree it builds.

/// A parsed condition over a rule's selections (by index into the rule's selection list).
/// Precedence, loosest first: `or`, `and`, `not`; parentheses group; `1 of X` / `any of X` and
/// `all of X` (X a selection name, a name pattern with `*`, or `them`) are primaries.
indirect enum ConditionNode: Sendable, Equatable {
    case selection(Int)
    case not(ConditionNode)
    case and([ConditionNode])
    case or([ConditionNode])
}

/// A condition that does not parse: the reason and the character offset in the condition text.
struct ConditionError: Error, Equatable {
    var offset: Int
    var reason: String
}

struct ConditionParser {
    enum Token: Equatable {
        case word(String)
        case open, close
    }

    /// Deepest nesting of parentheses and `not` accepted: rule files are input too.
    static let maxDepth = 64

    let selections: [String]
    private var tokens: [(token: Token, offset: Int)] = []
    private var pos = 0
    private var depth = 0
    private let textLength: Int

    /// Parses `text` against the selection names of the rule, in their order.
    static func parse(_ text: String, selections: [String]) throws(ConditionError) -> ConditionNode {
        var p = ConditionParser(text: text, selections: selections)
        let node = try p.expression()
        if p.pos < p.tokens.count {
            throw ConditionError(offset: p.tokens[p.pos].offset, reason: "unexpected '\(p.describe(p.tokens[p.pos].token))' in condition")
        }
        return node
    }

    private init(text: String, selections: [String]) {
        self.selections = selections
        var out: [(Token, Int)] = []
        var word = ""
        var wordStart = 0
        var offset = 0
        func flush() { if !word.isEmpty { out.append((.word(word), wordStart)); word = "" } }
        for ch in text {
            switch ch {
            case "(": flush(); out.append((.open, offset))
            case ")": flush(); out.append((.close, offset))
            case " ", "\t", "\n", "\r": flush()
            default:
                if word.isEmpty { wordStart = offset }
                word.append(ch)
            }
            offset += 1
        }
        flush()
        tokens = out.map { (token: $0.0, offset: $0.1) }
        textLength = offset
    }

    private func describe(_ t: Token) -> String {
        switch t {
        case .word(let w): return w
        case .open: return "("
        case .close: return ")"
        }
    }

    private var here: Int { pos < tokens.count ? tokens[pos].offset : textLength }

    private func peekKeyword(_ k: String) -> Bool {
        guard pos < tokens.count, case .word(let w) = tokens[pos].token else { return false }
        return w.lowercased() == k
    }

    private static let keywords: Set<String> = ["and", "or", "not", "of", "them", "all", "any", "1", "(", ")"]

    private mutating func expression() throws(ConditionError) -> ConditionNode {
        var terms = [try conjunction()]
        while peekKeyword("or") {
            pos += 1
            terms.append(try conjunction())
        }
        return terms.count == 1 ? terms[0] : .or(terms)
    }

    private mutating func conjunction() throws(ConditionError) -> ConditionNode {
        var terms = [try negation()]
        while peekKeyword("and") {
            pos += 1
            terms.append(try negation())
        }
        return terms.count == 1 ? terms[0] : .and(terms)
    }

    private mutating func negation() throws(ConditionError) -> ConditionNode {
        if peekKeyword("not") {
            let at = here
            pos += 1
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maxDepth { throw ConditionError(offset: at, reason: "condition nested deeper than \(Self.maxDepth)") }
            return .not(try negation())
        }
        return try primary()
    }

    private mutating func primary() throws(ConditionError) -> ConditionNode {
        guard pos < tokens.count else {
            throw ConditionError(offset: here, reason: "condition ends where a selection, 'not', '(' or 'x of' was expected")
        }
        let (token, offset) = tokens[pos]
        switch token {
        case .open:
            pos += 1
            depth += 1
            defer { depth -= 1 }
            if depth > Self.maxDepth { throw ConditionError(offset: offset, reason: "condition nested deeper than \(Self.maxDepth)") }
            let inner = try expression()
            guard pos < tokens.count, tokens[pos].token == .close else {
                throw ConditionError(offset: here, reason: "missing ')' for the '(' at offset \(offset)")
            }
            pos += 1
            return inner
        case .close:
            throw ConditionError(offset: offset, reason: "unexpected ')' in condition")
        case .word(let w):
            let lw = w.lowercased()
            if pos + 1 < tokens.count, case .word(let next) = tokens[pos + 1].token, next.lowercased() == "of" {
                let all: Bool
                switch lw {
                case "1", "any": all = false
                case "all": all = true
                default:
                    throw ConditionError(offset: offset, reason: "'\(w) of' is not supported: use '1 of' or 'all of'")
                }
                pos += 2
                guard pos < tokens.count, case .word(let target) = tokens[pos].token else {
                    throw ConditionError(offset: here, reason: "'\(w) of' needs a selection name, a pattern such as 'selection*', or 'them'")
                }
                let targetOffset = tokens[pos].offset
                pos += 1
                let indices: [Int]
                if target.lowercased() == "them" {
                    indices = selections.indices.filter { !selections[$0].hasPrefix("_") }
                    if indices.isEmpty { throw ConditionError(offset: targetOffset, reason: "'them' names no selection") }
                } else {
                    indices = selections.indices.filter { Self.nameMatches(pattern: target, selections[$0]) }
                    if indices.isEmpty {
                        throw ConditionError(offset: targetOffset, reason: "condition references unknown selection '\(target)'")
                    }
                }
                let nodes = indices.map { ConditionNode.selection($0) }
                if nodes.count == 1 { return nodes[0] }
                return all ? .and(nodes) : .or(nodes)
            }
            if Self.keywords.contains(lw) {
                throw ConditionError(offset: offset, reason: "unexpected '\(w)' where a selection was expected")
            }
            if w.contains("*") {
                throw ConditionError(offset: offset, reason: "a pattern '\(w)' needs '1 of' or 'all of' before it")
            }
            guard let index = selections.firstIndex(of: w) else {
                throw ConditionError(offset: offset, reason: "condition references unknown selection '\(w)'")
            }
            pos += 1
            return .selection(index)
        }
    }

    /// Selection-name patterns: `*` matches any run of characters, everything else itself.
    static func nameMatches(pattern: String, _ name: String) -> Bool {
        WildcardPattern(pieces: pattern.split(separator: "*", omittingEmptySubsequences: false)
            .enumerated().flatMap { i, part -> [WildcardPattern.Piece] in
                (i == 0 ? [] : [.many]) + (part.isEmpty ? [] : [.literal(String(part))])
            }, caseSensitive: true).matches(name)
    }
}
