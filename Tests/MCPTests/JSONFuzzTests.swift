import SonarCore
@testable import SonarMCP
import Testing

/// Deterministic random inputs: nothing may crash, and whatever parses must round-trip.
@Suite("JSON fuzz")
struct JSONFuzzTests {
    static let seeds: [String] = [
        "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"c\",\"version\":\"1\"}}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"t\",\"description\":\"d \\u00e9\\ud83d\\ude00\",\"inputSchema\":{\"type\":\"object\"}}]}}",
        "[{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progress\":1.5e2}},{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32700,\"message\":\"x\"}}]",
        "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/call\",\"params\":{\"name\":\"n\",\"arguments\":{\"k\":[true,false,null,-0.5E-3]}}}",
    ]

    /// Checks the invariants every successfully parsed document must hold.
    static func checkInvariants(_ d: JSONDocument) {
        // Ranges nest inside the input and every container's subtree ends within the tape.
        for i in 0..<d.nodeCount {
            let r = JSONRef(index: i)
            let range = d.range(r)
            #expect(range.lowerBound >= 0 && range.upperBound <= d.bytes.count && !range.isEmpty)
        }
        let compact = d.compactUTF8(d.root)
        do throws(JSONError) {
            let again = try JSONDocument.parse(compact)
            #expect(Tree(again, again.root) == Tree(d, d.root))
            #expect(again.compactUTF8(again.root) == compact)
        } catch {
            Issue.record("compact form does not parse: \(error) \(String(decoding: compact, as: UTF8.self))")
        }
    }

    @Test func randomGarbageNeverCrashes() {
        var rng = SplitMix64(seed: 0x5EED)
        let alphabet = Array("{}[],:\"\\/ -+.0123456789eEtrufalsn\tab\u{7F}".utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        var parsed = 0
        var limits = JSONLimits()
        limits.maxDepth = 8
        for round in 0..<4000 {
            let length = Int(rng.next() % 48)
            var bytes: [UInt8] = []
            for _ in 0..<length {
                bytes.append(round % 4 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : alphabet[Int(rng.next() % UInt64(alphabet.count))])
            }
            var counters = Counters()
            if let result = JSONRPC.parse(bytes, limits: limits, counters: &counters) {
                parsed += 1
                Self.checkInvariants(result.document)
            } else {
                #expect(counters.values.count == 1)
            }
        }
        // Most garbage is rejected; some short fragments ("1", "[]", "\"a\"") parse.
        #expect(parsed > 0)
        #expect(parsed < 4000)
    }

    @Test func mutatedMessagesNeverCrash() {
        var rng = SplitMix64(seed: 42)
        let tokens: [[UInt8]] = ["{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "null", "-", "0", "1e", " ", "\u{0}", "é"].map { Array($0.utf8) }
        var parsed = 0, messages = 0
        for round in 0..<6000 {
            var bytes = Array(Self.seeds[round % Self.seeds.count].utf8)
            let edits = 1 + Int(rng.next() % 4)
            for _ in 0..<edits {
                guard !bytes.isEmpty else { break }
                let at = Int(rng.next() % UInt64(bytes.count))
                switch rng.next() % 6 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: rng.next())          // overwrite
                case 1: bytes.remove(at: at)                                       // delete
                case 2: bytes.insert(contentsOf: tokens[Int(rng.next() % UInt64(tokens.count))], at: at)
                case 3: bytes.removeSubrange(at...)                                // truncate
                case 4: bytes[at] ^= 1 << UInt8(rng.next() % 8)                    // bit flip
                default:                                                           // duplicate a slice
                    let len = min(Int(rng.next() % 16), bytes.count - at)
                    bytes.insert(contentsOf: Array(bytes[at..<(at + len)]), at: at)
                }
            }
            var counters = Counters()
            if let result = JSONRPC.parse(bytes, limits: JSONLimits(), counters: &counters) {
                parsed += 1
                messages += result.messages.count
                Self.checkInvariants(result.document)
                for m in result.messages {
                    let raw = result.document.range(m.node)
                    #expect(raw.upperBound <= bytes.count)
                    _ = result.document.compactText(m.node)
                }
            }
        }
        #expect(parsed > 100)
        #expect(messages > 100)
    }

    /// Random valid documents with random whitespace must parse to the tree they came from.
    @Test func randomValidDocumentsRoundTrip() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<1500 {
            var text: [UInt8] = []
            let tree = Self.randomTree(&rng, depth: 0)
            Self.write(tree, &text, &rng)
            let d = try JSONDocument.parse(text)
            #expect(Tree(d, d.root) == tree)
            #expect(d.range(d.root).upperBound <= text.count)
            Self.checkInvariants(d)
        }
    }

    static func randomString(_ rng: inout SplitMix64) -> String {
        let pieces = ["a", "b", "\"", "\\", "/", "\n", "\t", "\u{1}", "é", "€", "😀", " ", "key", "\u{FFFD}", "\u{2028}"]
        return (0..<Int(rng.next() % 6)).map { _ in pieces[Int(rng.next() % UInt64(pieces.count))] }.joined()
    }

    static func randomTree(_ rng: inout SplitMix64, depth: Int) -> Tree {
        let choice = depth > 5 ? rng.next() % 4 + 2 : rng.next() % 6
        switch choice {
        case 0: return .object((0..<Int(rng.next() % 4)).map { _ in Tree.Member(key: randomString(&rng), value: randomTree(&rng, depth: depth + 1)) })
        case 1: return .array((0..<Int(rng.next() % 4)).map { _ in randomTree(&rng, depth: depth + 1) })
        case 2: return .string(randomString(&rng))
        case 3:
            let numbers = ["0", "-0", "17", "-3.25", "1e9", "6.02E+23", "1.5e-7", "123456789012345678901"]
            return .number(numbers[Int(rng.next() % UInt64(numbers.count))])
        case 4: return .bool(rng.next() % 2 == 0)
        default: return .null
        }
    }

    static func space(_ out: inout [UInt8], _ rng: inout SplitMix64) {
        let ws: [UInt8] = [0x20, 0x0A, 0x0D, 0x09]
        for _ in 0..<Int(rng.next() % 3) { out.append(ws[Int(rng.next() % 4)]) }
    }

    /// Serialises with random whitespace and a random mix of escaped and literal characters.
    static func write(_ t: Tree, _ out: inout [UInt8], _ rng: inout SplitMix64) {
        space(&out, &rng)
        switch t {
        case .object(let members):
            out.append(0x7B)
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(0x2C) }
                write(.string(m.key), &out, &rng)
                out.append(0x3A)
                write(m.value, &out, &rng)
            }
            space(&out, &rng)
            out.append(0x7D)
        case .array(let elements):
            out.append(0x5B)
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(0x2C) }
                write(e, &out, &rng)
            }
            space(&out, &rng)
            out.append(0x5D)
        case .string(let s):
            out.append(0x22)
            for scalar in s.unicodeScalars {
                let v = scalar.value
                let mustEscape = v < 0x20 || v == 0x22 || v == 0x5C
                if mustEscape || rng.next() % 4 == 0 {
                    if v > 0xFFFF {
                        let u = v - 0x10000
                        out.append(contentsOf: Array(escapeUnit(0xD800 + (u >> 10)).utf8))
                        out.append(contentsOf: Array(escapeUnit(0xDC00 + (u & 0x3FF)).utf8))
                    } else {
                        out.append(contentsOf: Array(escapeUnit(v).utf8))
                    }
                } else {
                    out.append(contentsOf: Array(String(scalar).utf8))
                }
            }
            out.append(0x22)
        case .number(let n): out.append(contentsOf: Array(n.utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .null: out.append(contentsOf: Array("null".utf8))
        }
        space(&out, &rng)
    }
}

/// `\uXXXX` for a UTF-16 code unit, in mixed-case hex to exercise both.
func escapeUnit(_ v: UInt32) -> String {
    let digits = String(v, radix: 16, uppercase: v % 2 == 0)
    return "\\u" + String(repeating: "0", count: max(0, 4 - digits.count)) + digits
}
