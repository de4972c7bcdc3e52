import Testing
@testable import SonarMCP

// MARK: - RFC 8259 conformance

@Suite("JSON conformance")
struct JSONConformanceTests {
    static let mustAccept: [String] = [
        "{}", "[]", "0", "-0", "1", "-1", "1.5", "-0.0e0", "1e3", "1E+3", "1e-3", "1.0E-10",
        "123456789012345678901234567890", "1e400", "\"\"", "\"a\"", "true", "false", "null",
        " [1 , 2 ]\n", "\t{\"a\" : [true,false,null]}\r\n", "{\"a\":1,\"a\":2}", "{\"\":0}",
        "[[[]]]", "[{},{},[]]", "\"\\u0000\"", "[\"\\/\"]", "\"\\ud83d\\ude00\"", "\"é\"",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\u{7F}\"", "\"€𝄞\"", "\u{FEFF}{}", "\"\\ud800\"",
        "[-1.5e+2,0.5,10,-10]", "{\"a\":{\"b\":{\"c\":[1,{\"d\":\"e\"}]}}}", "\"\\uD834\\uDD1E\"",
    ]

    @Test(arguments: mustAccept)
    func accepts(_ text: String) throws {
        let d = try parseJSON(text)
        // The root spans the text without surrounding whitespace (and without the BOM).
        let bytes = Array(text.utf8)
        var lo = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var hi = bytes.count
        while lo < hi, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[lo]) { lo += 1 }
        while hi > lo, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[hi - 1]) { hi -= 1 }
        #expect(d.range(d.root) == lo..<hi)
    }

    /// Input and the byte offset at which it must be rejected.
    static let mustReject: [(String, Int)] = [
        ("[1,]", 3), ("{\"a\":1,}", 7), ("[,1]", 1), ("[1,,2]", 3), ("{,}", 1),
        ("01", 1), ("-01", 2), ("00", 1), ("1.", 2), (".5", 0), ("1e", 2), ("1e+", 3), ("+1", 0),
        ("-", 1), ("0x10", 1), ("1.e3", 2), ("Infinity", 0), ("NaN", 0), ("-Infinity", 1),
        ("tru", 0), ("True", 0), ("nul", 0), ("truex", 4), ("nulll", 4),
        ("\"abc", 0), ("\"\\x\"", 1), ("\"\\u12\"", 1), ("\"\\u12G4\"", 1), ("\"\\U0041\"", 1),
        ("\"\\", 1), ("\"a\tb\"", 2), ("\"a\nb\"", 2), ("\"\u{0}\"", 1), ("\"\u{1F}\"", 1),
        ("'a'", 0), ("{a:1}", 1), ("{\"a\" 1}", 5), ("{\"a\":1 \"b\":2}", 7), ("[1 2]", 3),
        ("[1}", 2), ("{\"a\":1]", 6), ("[", 1), ("{", 1), ("{\"a\":", 5), ("[\"a\"", 4), ("[1,2", 4),
        ("[] []", 3), ("{}x", 2), ("1 2", 2), ("[1]\u{0}", 3), ("\u{A0}1", 0), ("/* */ 1", 0),
        ("[\u{C}1]", 1), ("{\"a\":1}}", 7), ("]", 0), ("[1]]", 3), ("{1:2}", 1), ("[\"a\":1]", 4),
        ("\u{FEFF}\u{FEFF}{}", 3),
    ]

    @Test(arguments: mustReject)
    func rejects(_ text: String, _ offset: Int) {
        guard case .invalid(let at, _)? = parseError(text) else {
            Issue.record("\(text.debugDescription) was not rejected as invalid: \(String(describing: parseError(text)))")
            return
        }
        #expect(at == offset, "\(text.debugDescription)")
    }

    @Test func reasonsNameTheProblem() {
        #expect(parseError("[1,]") == .invalid(offset: 3, reason: "expected a value"))
        #expect(parseError("{\"a\":1,}") == .invalid(offset: 7, reason: "expected a string key"))
        #expect(parseError("01") == .invalid(offset: 1, reason: "trailing data after the value"))
        #expect(parseError("\"\\q\"") == .invalid(offset: 1, reason: "invalid escape"))
        #expect(parseError("\"a\u{1}\"") == .invalid(offset: 2, reason: "control character in string"))
        #expect(parseError("[1 2]") == .invalid(offset: 3, reason: "expected ',' or ']'"))
        #expect(parseError("\"abc") == .invalid(offset: 0, reason: "unterminated string"))
    }

    @Test func bytesOutsideStringsMustBeASCIIJSON() {
        #expect(parseError([0xFF]) == .invalid(offset: 0, reason: "expected a value"))
        #expect(parseError([0x5B, 0x31, 0x5D, 0x80]) == .invalid(offset: 3, reason: "trailing data after the value"))
    }

    /// A key compared with a literal (`keyEquals(_:literal:)`) answers as the String comparison
    /// does: exact bytes, escapes unescaped first, nothing else matching.
    @Test func keysComparedWithLiteralsAsWithStrings() throws {
        let d = try parseJSON(#"{"id":1,"\u0069d":2,"idx":3,"ie":4,"":5,"m\u00e9thode":6,"jsonrpc":"2.0"}"#)
        var keys: [JSONRef] = []
        d.forEachMember(d.root) { k, _ in keys.append(k); return true }
        #expect(keys.count == 7)
        let literals: [StaticString] = ["id", "idx", "ie", "", "méthode", "jsonrpc", "i"]
        for k in keys {
            for literal in literals {
                #expect(d.keyEquals(k, literal: literal) == d.keyEquals(k, literal.description), "\(d.string(k) ?? "?") vs \(literal)")
            }
        }
        #expect(d.keyEquals(keys[0], literal: "id") && d.keyEquals(keys[1], literal: "id"))
        #expect(!d.keyEquals(keys[2], literal: "id") && !d.keyEquals(keys[3], literal: "id"))
        #expect(d.keyEquals(keys[5], literal: "méthode"))
        // Not a string: never a key.
        #expect(!d.keyEquals(d.root, literal: "id"))
        let two = try #require(d.member(d.root, "jsonrpc"))
        #expect(d.keyEquals(two, literal: "2.0") && !d.keyEquals(two, literal: "2.1"))
    }

    @Test func emptyInput() {
        #expect(parseError([]) == .empty)
        #expect(parseError("   \n\t\r ") == .empty)
        #expect(parseError("\u{FEFF}") == .empty)
        #expect(parseError("\u{FEFF}  ") == .empty)
    }

    /// Strings are scanned eight bytes at a time, and the word that stops the scan gives the
    /// place of its first quote, backslash, control or non-ASCII byte: each of them, at every
    /// place of strings up to 24 bytes (before, inside and after whole words, in a document
    /// that ends right after the string and in one that goes on), reads as its text, and a
    /// control byte is refused at its own offset.
    @Test func stringsStopAtTheirFirstSpecialByteAnywhereInAWord() throws {
        let specials: [(raw: String, text: String)] = [("\\\"", "\""), ("\\\\", "\\"), ("\\n", "\n"),
                                                      ("é", "é"), ("\u{7F}", "\u{7F}"), ("😀", "😀")]
        for length in 0...24 {
            for (raw, text) in specials {
                for at in 0...length {
                    let before = String(repeating: "a", count: at), after = String(repeating: "z", count: length - at)
                    let alone = try parseJSON("\"" + before + raw + after + "\"")
                    #expect(alone.string(alone.root) == before + text + after, "\(at) \(raw)")
                    let inArray = try parseJSON("[\"" + before + raw + after + "\",1]")
                    let first = try #require(inArray.elements(inArray.root).first)
                    #expect(inArray.string(first) == before + text + after, "\(at) \(raw)")
                }
            }
            for at in 0...length {
                let json = "\"" + String(repeating: "a", count: at) + "\u{01}" + String(repeating: "z", count: length - at) + "\""
                guard case .invalid(let offset, _)? = parseError(json) else {
                    Issue.record("accepted \(json.debugDescription)")
                    continue
                }
                #expect(offset == 1 + at, "\(json.debugDescription)")
            }
        }
    }

    @Test func invalidUTF8IsRepairedByDefault() throws {
        let cases: [([UInt8], String)] = [
            ([0x22, 0x61, 0xFF, 0x62, 0x22], "a\u{FFFD}b"),
            ([0x22, 0xC0, 0xAF, 0x22], "\u{FFFD}\u{FFFD}"),             // overlong "/"
            ([0x22, 0xED, 0xA0, 0x80, 0x22], "\u{FFFD}\u{FFFD}\u{FFFD}"), // encoded surrogate
            ([0x22, 0xE2, 0x82, 0x22], "\u{FFFD}"),                      // truncated
        ]
        for (bytes, expected) in cases {
            let d = try JSONDocument.parse(bytes)
            #expect(d.hasUnicodeRepairs)
            #expect(d.string(d.root) == expected)
            // The compact form is valid UTF-8 JSON with the replacement character.
            let again = try parseJSON(d.compactText(d.root))
            #expect(again.string(again.root) == expected)
            #expect(!again.hasUnicodeRepairs)
        }
        let clean = try parseJSON("\"é€𝄞\"")
        #expect(!clean.hasUnicodeRepairs)
    }

    @Test func strictUnicodeRejects() {
        var strict = JSONLimits()
        strict.strictUnicode = true
        #expect(parseError([0x22, 0x61, 0xFF, 0x22], strict) == .invalid(offset: 2, reason: "invalid UTF-8"))
        #expect(parseError([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], strict) == .invalid(offset: 1, reason: "invalid UTF-8"))
        #expect(parseError([0x22, 0xC0, 0xAF, 0x22], strict) == .invalid(offset: 1, reason: "invalid UTF-8"))
        #expect(parseError("\"\\ud800\"", strict) == .invalid(offset: 1, reason: "unpaired surrogate escape"))
        #expect(parseError("\"x\\udc00\"", strict) == .invalid(offset: 2, reason: "unpaired surrogate escape"))
        #expect(parseError("\"\\ud83d\\ude00é𝄞\"", strict) == nil)
    }
}

// MARK: - Strings and numbers

@Suite("JSON strings and numbers")
struct JSONValueTests {
    static let escapes: [(String, String)] = [
        ("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\u{8}\u{C}\n\r\t"),
        ("\"\\u0041\\u00e9\\u20AC\"", "Aé€"),
        ("\"\\ud83d\\ude00\"", "😀"),
        ("\"\\uD834\\uDD1E\"", "𝄞"),
        ("\"\\ud800\"", "\u{FFFD}"),
        ("\"\\udc00\\ud800x\"", "\u{FFFD}\u{FFFD}x"),
        ("\"\\ud800\\u0041\"", "\u{FFFD}A"),
        ("\"\\ud800\\ud800\\udc00\"", "\u{FFFD}𐀀"),
        ("\"\\u0000\"", "\u{0}"),
        ("\"plain text\"", "plain text"),
        ("\"x\\ny\"", "x\ny"),
        ("\"é€\"", "é€"),
    ]

    @Test(arguments: escapes)
    func decodesEscapes(_ json: String, _ expected: String) throws {
        let d = try parseJSON(json)
        #expect(d.kind(d.root) == .string)
        #expect(d.string(d.root) == expected)
    }

    @Test func integers() throws {
        let cases: [(String, Int?)] = [
            ("0", 0), ("-0", 0), ("42", 42), ("-32601", -32601),
            ("9223372036854775807", Int.max), ("-9223372036854775808", Int.min),
            ("9223372036854775808", nil), ("-9223372036854775809", nil),
            ("1.0", nil), ("1e3", nil), ("100000000000000000000000", nil),
        ]
        for (text, expected) in cases {
            let d = try parseJSON(text)
            #expect(d.int(d.root) == expected, "\(text)")
            #expect(d.numberText(d.root) == text)
        }
    }

    @Test func numberTextIsExact() throws {
        let d = try parseJSON("[1.50E+3, -0.000, 1e400, 12345678901234567890.5]")
        #expect(d.elements(d.root).map { d.numberText($0) ?? "" } == ["1.50E+3", "-0.000", "1e400", "12345678901234567890.5"])
        #expect(d.double(d.elements(d.root)[0]) == 1500)
    }

    @Test func typedReadersAnswerNilForOtherKinds() throws {
        let d = try parseJSON("[\"1\", 1, true, null, {}, []]")
        let e = d.elements(d.root)
        #expect(e.map { d.kind($0) } == [.string, .number, .bool, .null, .object, .array])
        #expect(d.int(e[0]) == nil)
        #expect(d.string(e[1]) == nil)
        #expect(d.bool(e[2]) == true)
        #expect(d.bool(e[1]) == nil)
        #expect(d.numberText(e[0]) == nil)
        #expect(d.isNull(e[3]))
        #expect(d.member(e[5], "a") == nil)
        #expect(d.elements(e[4]).isEmpty)
        #expect(d.members(e[5]).isEmpty)
        #expect(d.count(e[1]) == 0)
        let falseDoc = try parseJSON("false")
        #expect(falseDoc.bool(falseDoc.root) == false)
    }

    @Test func foreignHandlesAreHarmless() throws {
        let d = try parseJSON("[1]")
        for r in [JSONRef(index: 2), JSONRef(index: -1), JSONRef(index: Int.max)] {
            #expect(d.kind(r) == .null)
            #expect(d.range(r) == 0..<0)
            #expect(d.raw(r).isEmpty)
            #expect(d.string(r) == nil)
            #expect(d.int(r) == nil)
            #expect(d.count(r) == 0)
            #expect(d.member(r, "a") == nil)
            #expect(d.compactText(r) == "null")
        }
    }
}

// MARK: - Tape, ranges, readers

@Suite("JSON tape")
struct JSONTapeTests {
    @Test func rawRangesAreExact() throws {
        let text = "{\"a\" : [1, \"x\\\"y\", {\"b\":null}], \"c\":-2.5e1 }"
        let d = try parseJSON(text)
        func raw(_ r: JSONRef?) -> String { r.map { String(decoding: d.raw($0), as: UTF8.self) } ?? "<nil>" }
        #expect(raw(d.root) == text)
        #expect(d.range(d.root) == 0..<text.utf8.count)
        let a = d.member(d.root, "a")
        #expect(raw(a) == "[1, \"x\\\"y\", {\"b\":null}]")
        #expect(d.range(a ?? d.root) == 7..<30)
        let e = d.elements(a ?? d.root)
        #expect(e.map(raw) == ["1", "\"x\\\"y\"", "{\"b\":null}"])
        #expect(d.range(e[1]) == 11..<17)
        #expect(d.string(e[1]) == "x\"y")
        #expect(raw(d.path(d.root, "a")) == raw(a))
        #expect(raw(d.member(e[2], "b")) == "null")
        #expect(raw(d.member(d.root, "c")) == "-2.5e1")
        #expect(d.nodeCount == 10) // { "a" [ 1 "x\"y" { "b" null "c" -2.5e1
    }

    @Test func tapeShape() throws {
        // Nodes: {0  "a"1 [2 1(3) "x"4 {5 "b"6 null7 }  "c"8 num9 }  -> 10 nodes.
        let d = try parseJSON("{\"a\":[1,\"x\",{\"b\":null}],\"c\":2}")
        #expect(d.nodeCount == 10)
        #expect(d.count(d.root) == 2)
        let a = try #require(d.member(d.root, "a"))
        #expect(a.index == 2)
        #expect(d.count(a) == 3)
        #expect(d.member(d.root, "c")?.index == 9)
        #expect(d.members(d.root).map(\.key) == ["a", "c"])
    }

    @Test func membersAndDuplicates() throws {
        let d = try parseJSON("{\"k\":1,\"x\":true,\"k\":2,\"\\u006b\":3}")
        #expect(d.int(d.member(d.root, "k") ?? d.root) == 1)
        #expect(d.int(d.lastMember(d.root, "k") ?? d.root) == 3)
        #expect(d.members(d.root).map(\.key) == ["k", "x", "k", "k"])
        #expect(d.count(d.root) == 4)
        #expect(d.member(d.root, "missing") == nil)
    }

    /// A name written in the code finds what the String lookup finds: the first of duplicates,
    /// a key sent escaped, nothing in a missing member or a value that is not an object.
    @Test func literalLookupsAgreeWithStringLookups() throws {
        let d = try parseJSON(#"{"x":true,"\u006eame":1,"name":2,"nam":3,"o":{"_meta":{"v":"7"}},"a":[{"name":4}]}"#)
        #expect(d.int(d.member(d.root, literal: "name") ?? d.root) == 1)
        #expect(d.member(d.root, literal: "name") == d.member(d.root, "name"))
        #expect(d.int(d.member(d.root, literal: "nam") ?? d.root) == 3)
        #expect(d.member(d.root, literal: "names") == nil)
        #expect(d.member(d.root, literal: "") == nil)
        let array = try #require(d.member(d.root, literal: "a"))
        #expect(d.member(array, literal: "name") == nil)
        #expect(d.string(d.path(d.root, literal: "o", "_meta").flatMap { d.member($0, literal: "v") } ?? d.root) == "7")
        #expect(d.path(d.root, literal: "o", "v") == nil)
        #expect(d.path(d.root, literal: "p", "_meta") == nil)
    }

    @Test func keysCompareByCodePointNotNormalisation() throws {
        let d = try parseJSON("{\"e\\u0301\":1,\"\\u00e9\":2}")
        #expect(d.int(d.member(d.root, "\u{E9}") ?? d.root) == 2)
        #expect(d.int(d.member(d.root, "e\u{301}") ?? d.root) == 1)
    }

    @Test func pathFollowsMembers() throws {
        let d = try parseJSON("{\"params\":{\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}")
        let v = d.path(d.root, "params", "_meta", "io.modelcontextprotocol/protocolVersion")
        #expect(d.string(v ?? d.root) == "2026-07-28")
        #expect(d.path(d.root, "params", "nope") == nil)
        #expect(d.path(d.root) == d.root)
    }
}

// MARK: - Limits

@Suite("JSON limits")
struct JSONLimitTests {
    static func nested(_ depth: Int, open: String = "[", close: String = "]") -> [UInt8] {
        Array(String(repeating: open, count: depth).utf8) + Array(String(repeating: close, count: depth).utf8)
    }

    @Test func depthExactlyAtAndAboveTheLimit() throws {
        #expect(parseError(Self.nested(128)) == nil)
        #expect(parseError(Self.nested(129)) == .tooDeep)
        let objects128 = String(repeating: "{\"a\":", count: 127) + "{}" + String(repeating: "}", count: 127)
        #expect(parseError(objects128) == nil)
        let objects129 = String(repeating: "{\"a\":", count: 128) + "{}" + String(repeating: "}", count: 128)
        #expect(parseError(objects129) == .tooDeep)
        var zero = JSONLimits()
        zero.maxDepth = 0
        #expect(parseError("1", zero) == nil)
        #expect(parseError("[]", zero) == .tooDeep)
    }

    @Test func millionDeepFailsFast() {
        let bytes = [UInt8](repeating: 0x5B, count: 1_000_000)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(parseError(bytes) == .tooDeep)
        #expect(clock.now - start < .seconds(2))
        // Unclosed but under the depth limit still fails cleanly.
        var deep = JSONLimits()
        deep.maxDepth = 2_000_000
        #expect(parseError(bytes, deep) == .invalid(offset: 1_000_000, reason: "unexpected end of input"))
    }

    @Test func millionDeepParsesWithoutRecursionWhenAllowed() throws {
        var limits = JSONLimits()
        limits.maxDepth = 1_000_000
        limits.maxElements = 1_000_000
        let bytes = Self.nested(1_000_000)
        let d = try JSONDocument.parse(bytes, limits: limits)
        #expect(d.nodeCount == 1_000_000)
        #expect(d.range(d.root) == 0..<2_000_000)
        #expect(d.range(JSONRef(index: 999_999)) == 999_999..<1_000_001)
        #expect(d.compactUTF8(d.root) == bytes)
    }

    @Test func elementLimit() throws {
        var limits = JSONLimits()
        limits.maxElements = 10
        #expect(parseError("[1,2,3,4,5,6,7,8,9]", limits) == nil)       // 10 nodes
        #expect(parseError("[1,2,3,4,5,6,7,8,9,10]", limits) == .tooManyElements)
        #expect(parseError("{\"a\":1,\"b\":2,\"c\":3}", limits) == nil)  // keys are nodes: 7
        #expect(parseError("{\"a\":1,\"b\":2,\"c\":3,\"d\":4,\"e\":5}", limits) == .tooManyElements) // 11
    }

    static func zeros(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x5B]
        bytes.reserveCapacity(2 * count + 1)
        for i in 0..<count { bytes.append(0x30); bytes.append(i == count - 1 ? 0x5D : 0x2C) }
        return bytes
    }

    @Test func hugeElementCounts() throws {
        // 999,999 zeros plus the array: exactly the default million nodes.
        let d = try JSONDocument.parse(Self.zeros(999_999))
        #expect(d.nodeCount == 1_000_000)
        #expect(d.count(d.root) == 999_999)
        #expect(parseError(Self.zeros(1_000_000)) == .tooManyElements)
    }

    @Test func stringLimit() {
        var limits = JSONLimits()
        limits.maxStringBytes = 5
        #expect(parseError("\"abcde\"", limits) == nil)
        #expect(parseError("\"abcdef\"", limits) == .stringTooLong)
        #expect(parseError("\"\\n\\n\\n\"", limits) == .stringTooLong) // raw bytes count
        #expect(parseError("{\"abcdef\":1}", limits) == .stringTooLong)  // keys too
        #expect(parseError("\"éé\"", limits) == nil)                       // 4 bytes
        #expect(parseError("\"ééé\"", limits) == .stringTooLong)          // 6 bytes
    }

    @Test func sizeLimit() {
        var limits = JSONLimits()
        limits.maxBytes = 10
        #expect(parseError("[1,2,3,45]", limits) == nil)
        #expect(parseError("[1,2,3,456]", limits) == .tooLarge)
        #expect(parseError("           ", limits) == .tooLarge) // size is checked first
    }

    @Test func counterNames() {
        #expect(JSONError.empty.counterName == "json.empty")
        #expect(JSONError.tooLarge.counterName == "json.too_large")
        #expect(JSONError.tooDeep.counterName == "json.too_deep")
        #expect(JSONError.tooManyElements.counterName == "json.too_many_elements")
        #expect(JSONError.stringTooLong.counterName == "json.string_too_long")
        #expect(JSONError.invalid(offset: 0, reason: "x").counterName == "json.invalid")
    }
}

// MARK: - Compact text

@Suite("JSON compact text")
struct JSONCompactTests {
    @Test func compactForm() throws {
        let d = try parseJSON("{ \"a\" : [ 1 , 2.50 , \"x\\/y\" ], \"b\" : { } , \"c\":[ ] , \"\\u0041\": \"\\u00e9\\n\\u0001\\u001F\\\"\" }")
        #expect(d.compactText(d.root) == "{\"a\":[1,2.50,\"x/y\"],\"b\":{},\"c\":[],\"A\":\"é\\n\\u0001\\u001f\\\"\"}")
        let a = try #require(d.member(d.root, "a"))
        #expect(d.compactText(a) == "[1,2.50,\"x/y\"]")
        #expect(d.compactText(d.elements(a)[1]) == "2.50")
    }

    @Test func compactReplacesLoneSurrogates() throws {
        let d = try parseJSON("[\"\\ud800\", \"\\ud83d\\ude00\", \"\\u2028\"]")
        #expect(d.compactText(d.root) == "[\"\u{FFFD}\",\"😀\",\"\u{2028}\"]")
    }

    static let corpus: [String] = [
        "{}", "[]", "[[],{},[[{}]]]", "\"\\\\\\\"\"", "{\"a\":{\"b\":[1,2,{\"c\":null}]},\"d\":\"\\ud83d\\ude00\"}",
        "[true , false , null , -0 , 1.5e-7 ]", "{\"\\u0000\":\"\\u001f\\t\"}", "  \"\\/\\b\\f\"  ",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"run\",\"arguments\":{\"cmd\":\"ls -la\\n\"}}}",
    ]

    @Test(arguments: corpus)
    func roundTrips(_ text: String) throws {
        let d = try parseJSON(text)
        let compact = d.compactText(d.root)
        #expect(!compact.contains("\n"))
        let again = try parseJSON(compact)
        #expect(Tree(again, again.root) == Tree(d, d.root))
        #expect(again.compactText(again.root) == compact) // idempotent
    }
}

// MARK: - Navigation

@Suite("JSON navigation")
struct JSONNavigationTests {
    static let text = "{\"params\":{\"name\":\"x\",\"arguments\":{\"a/b\":[1,{\"q~\":\"ghp_secret\"}],\"query\":\"ls\"}},\"id\":1}"

    @Test func pointers() throws {
        let d = try parseJSON(Self.text)
        let args = try #require(d.path(d.root, "params", "arguments"))
        let list = try #require(d.member(args, "a/b"))
        let inner = d.elements(list)[1]
        let secret = try #require(d.member(inner, "q~"))
        #expect(d.pointer(to: secret) == "/params/arguments/a~1b/1/q~0")
        #expect(d.pointer(to: d.member(args, "query") ?? d.root) == "/params/arguments/query")
        #expect(d.pointer(to: d.elements(list)[0]) == "/params/arguments/a~1b/0")
        #expect(d.pointer(to: d.root) == "")
        #expect(d.pointer(to: secret, from: args) == "/a~1b/1/q~0")
        #expect(d.pointer(to: d.member(d.root, "id") ?? d.root, from: args) == nil)
        #expect(d.pointer(to: JSONRef(index: 500)) == nil)
    }

    @Test func walkFindsEveryStringWithKeysMarked() throws {
        let d = try parseJSON(Self.text)
        var keys: [String] = [], values: [String] = []
        d.forEachNode(in: d.root) { r in
            if d.kind(r) == .string {
                if d.isKey(r) { keys.append(d.string(r) ?? "") } else { values.append(d.string(r) ?? "") }
            }
            return true
        }
        #expect(keys == ["params", "name", "arguments", "a/b", "q~", "query", "id"])
        #expect(values == ["x", "ghp_secret", "ls"])
        // Pointer of a key node is its member's pointer.
        var keyPointer: String?
        d.forEachNode(in: d.root) { r in
            if d.isKey(r), d.string(r) == "query" { keyPointer = d.pointer(to: r); return false }
            return true
        }
        #expect(keyPointer == "/params/arguments/query")
        var count = 0
        d.forEachNode(in: d.root) { _ in count += 1; return count < 3 }
        #expect(count == 3)
    }

    /// The strings a scan reads, each with the member name it sits under and its top-level member.
    @Test func stringsCarryTheirNameAndTopMember() throws {
        let d = try parseJSON(#"{"a":"long value","b":[["deep one"],{"c":"inner value"},"after one"],"d":"s","\u0065":"x"}"#)
        var seen: [String] = []
        d.forEachString(in: d.root, atLeast: 5) { s, name, top in
            seen.append("\(d.string(s) ?? "") <\(name.flatMap { d.string($0) } ?? "-")> [\(top.flatMap { d.string($0) } ?? "-")]")
        }
        // Long enough or escaped, names included; array elements take the array's name.
        #expect(seen == ["long value <a> [a]", "deep one <b> [b]", "inner value <c> [b]", "after one <b> [b]",
                         "e <-> [e]"])
        var values: [String] = []
        d.forEachStringValue(in: d.root, skippingMembers: ["c"]) { s, name in
            values.append("\(d.string(s) ?? "")<\(name.flatMap { d.string($0) } ?? "-")>")
        }
        #expect(values == ["long value<a>", "deep one<b>", "after one<b>", "s<d>", "x<e>"])
        // A string at the top is read by the same rule as one below.
        let text = try parseJSON(#""short""#)
        var calls = 0
        text.forEachString(in: text.root, atLeast: 6) { _, _, _ in calls += 1 }
        #expect(calls == 0)
        text.forEachString(in: text.root, atLeast: 5) { _, _, _ in calls += 1 }
        #expect(calls == 1)
    }
}
