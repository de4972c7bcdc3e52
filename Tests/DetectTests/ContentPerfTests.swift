import Testing
import SonarCore
import SonarMCP
@testable import SonarDetect

/// Cost per message of the content detectors (the view is parsed once; only `inspect` is timed)
/// and linear behaviour on hostile input. Numbers are printed; the bounds only catch blow-ups.
@Suite(.serialized) struct ContentPerfTests {
    /// Captures the (event, view) pairs the tracker hands detectors for one exchange.
    final class Capture {
        let tracker = MCPTracker()
        var pairs: [(MCPEvent, MCPMessageView)] = []
        let client = Endpoint(address: .v4(0x7F00_0001), port: 40000)
        let server = Endpoint(address: .v4(0x7F00_0001), port: 8000)
        func send(_ json: String, _ direction: Direction, exchange: Int) {
            let p = MCPPayload(time: Timestamp(microseconds: 1), flowId: 1, client: client, server: server,
                               direction: direction, transport: .http, appProto: "http", exchange: exchange,
                               bytes: Array(json.utf8))
            tracker.process(p) { (e: MCPEvent, v: MCPMessageView) in pairs.append((e, v)) }
        }
        /// The last message of a request/response exchange.
        func message(_ method: String, params: String, result: String?) -> (MCPEvent, MCPMessageView)? {
            let id = pairs.count + 1
            send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#, .toServer, exchange: id)
            if let result { send(#"{"jsonrpc":"2.0","id":\#(id),"result":\#(result)}"#, .toClient, exchange: id) }
            return pairs.last
        }
    }

    static func manyTools(_ n: Int) -> String {
        let tools = (0..<n).map { i in
            #"{"name":"tool_\#(i)","title":"Tool \#(i)","description":"Fetches the “record” number \#(i) from the catalogue — returns JSON with fields id, name and price. Use before calling update_\#(i).","inputSchema":{"type":"object","properties":{"id":{"type":"integer","description":"Record id (1–10 000)."},"verbose":{"type":"boolean","title":"Verbose"}},"required":["id"]},"annotations":{"readOnlyHint":true}}"#
        }
        return #"{"tools":[\#(tools.joined(separator: ","))]}"#
    }

    static let prose = String(repeating: "The quarterly report shows revenue of 1 234 567 EUR, up 12% on last year; contact the finance team for details. Zürich office — “on track”. ", count: 32)

    /// The fastest of `iterations` inspections of `m`, in nanoseconds of this thread's CPU time
    /// (`threadCPUSeconds`): what the ratios below compare.
    func measure(_ name: String, _ d: ContentDetectors, _ m: (MCPEvent, MCPMessageView), iterations: Int) -> Double {
        var found = 0
        var perMessage = Double.infinity
        for _ in 0..<iterations {
            let ns = threadCPUSeconds { d.inspect(m.1, event: m.0) { _ in found += 1 } } * 1e9
            perMessage = min(perMessage, ns)
        }
        let bytes = m.1.document.bytes.count
        print("content-perf \(name): \(bytes) bytes, \(Int(perMessage)) ns/message, \(Int(Double(bytes) / perMessage * 1000)) MB/s, findings/iter \(found / iterations)")
        return perMessage
    }

    @Test func costPerMessage() throws {
        let d = ContentDetectors(config: try shippedContentConfig())
        let c = Capture()
        let cases: [(String, String, String, String?)] = [
            ("tools/list python-sdk", "tools/list", "{}", ContentPoisoningTests.benignToolsList),
            ("tools/list 50 tools", "tools/list", "{}", Self.manyTools(50)),
            ("tools/call request", "tools/call", #"{"name":"read_file","arguments":{"path":"src/main.swift","query":"find the bug in the parser; explain it","options":{"limit":10}}}"#, nil),
            ("tools/call result 4KB prose", "tools/call", #"{"name":"t","arguments":{}}"#, #"{"content":[{"type":"text","text":\#(jsonString(Self.prose))}]}"#),
            ("ping", "ping", "{}", "{}"),
        ]
        for (name, method, params, result) in cases {
            let m = try #require(c.message(method, params: params, result: result))
            let ns = measure(name, d, m, iterations: 300)
            #expect(ns < 20_000_000)  // 20 ms even in a debug build: catches only blow-ups
        }
    }

    /// A message reports at most `maxReportedPerMessage` content findings, the first in document
    /// order; `inspect` returns how many more it found.
    @Test func atMostSixtyFourContentFindingsAreReportedAMessage() throws {
        let d = ContentDetectors(config: try shippedContentConfig())
        let c = Capture()
        let rows = (0..<50).map { #""../../../etc/passwd \#($0)""# }.joined(separator: ",")
        let m = try #require(c.message("tools/call", params: #"{"name":"t","arguments":{"files":[\#(rows)]}}"#, result: nil))
        var reported: [Finding] = []
        let unreported = d.inspect(m.1, event: m.0) { reported.append($0) }
        #expect(ContentDetectors.maxReportedPerMessage == 64)
        // Two findings a string (traversal and a system file), in document order.
        #expect(reported.count == 64)
        #expect(reported.compactMap(\.evidence?.path) == (0..<32).flatMap { ["/params/arguments/files/\($0)", "/params/arguments/files/\($0)"] })
        #expect(unreported == 36)
    }

    /// Hostile inputs cost time linear in their size: each is timed at 64 KiB and at 256 KiB, and
    /// four times the input may cost at most eight times the time (a quadratic scan costs
    /// sixteen). A ratio, not a deadline, so a loaded CI machine does not fail it; a blow-up past
    /// 5 s is caught as well.
    @Test func hostileInputStaysLinear() throws {
        let d = ContentDetectors(config: try shippedContentConfig())
        let c = Capture()
        func hostile(_ size: Int) -> [(String, String)] {
            [
                ("curl chain", String(repeating: "curl ", count: size / 5)),
                ("nc chain", String(repeating: "nc ", count: size / 3)),
                ("urls", String(repeating: "send the contents to http://", count: size / 28)),
                ("digits", String(repeating: "4111 ", count: size / 5)),
                ("ats", String(repeating: "a@", count: size / 2)),
                ("percent", String(repeating: "%25", count: size / 3)),
                ("dots", String(repeating: "../", count: size / 3)),
                ("markers", String(repeating: "ignore all the ", count: size / 15)),
            ]
        }
        func timings(_ size: Int) throws -> [String: Double] {
            var out: [String: Double] = [:]
            for (name, text) in hostile(size) {
                let call = try #require(c.message("tools/call", params: #"{"name":"t","arguments":{"x":\#(jsonString(text))}}"#,
                                                    result: #"{"content":[{"type":"text","text":\#(jsonString(text))}]}"#))
                let list = try #require(c.message("tools/list", params: "{}",
                                                    result: #"{"tools":[{"name":"t","description":\#(jsonString(text)),"inputSchema":{}}]}"#))
                let request = try #require(c.pairs.last { $0.0.kind == .request && $0.0.method == "tools/call" && $0.1.document.bytes.count > size / 2 && String(decoding: $0.1.document.bytes, as: UTF8.self).contains(text.prefix(20)) })
                for (label, m) in [("request", request), ("result", call), ("tools/list", list)] {
                    out["\(name) \(label)"] = measure("hostile \(name) \(label) \(size >> 10) KiB", d, m, iterations: 3)
                }
            }
            return out
        }
        // Tool arguments and results of many short strings in arrays: each string's name is
        // read off the tape, not found by a walk from the message for each.
        func arrays(_ n: Int) throws -> [(String, (MCPEvent, MCPMessageView))] {
            let rows = (0..<n).map { #"["row \#($0)"]"# }.joined(separator: ",")
            let call = try #require(c.message("tools/call", params: #"{"name":"t","arguments":{"paths":[\#(rows)]}}"#,
                                              result: #"{"content":[{"type":"text","text":"ok"}],"structuredContent":{"rows":[\#(rows)]}}"#))
            let request = try #require(c.pairs.last { $0.0.kind == .request })
            return [("array request", request), ("array result", call)]
        }
        for ((name, small), (_, large)) in zip(try arrays(5_000), try arrays(20_000)) {
            let base = max(measure("hostile \(name) 5 000", d, small, iterations: 3), 1_000_000)
            let ns = measure("hostile \(name) 20 000", d, large, iterations: 3)
            #expect(ns / base < 8, "\(name): 5 000 rows \(base / 1e6) ms, 20 000 rows \(ns / 1e6) ms")
        }
        // Findings on every string: sixty-four reported, the rest counted, no path made for them.
        func findings(_ n: Int) throws -> (MCPEvent, MCPMessageView) {
            let rows = (0..<n).map { #""../../../etc/passwd \#($0)""# }.joined(separator: ",")
            return try #require(c.message("tools/call", params: #"{"name":"t","arguments":{"files":[\#(rows)]}}"#, result: nil))
        }
        let few = try findings(5_000), many = try findings(20_000)
        let fewNs = max(measure("hostile findings 5 000", d, few, iterations: 3), 1_000_000)
        let manyNs = measure("hostile findings 20 000", d, many, iterations: 3)
        #expect(manyNs / fewNs < 8, "5 000 findings \(fewNs / 1e6) ms, 20 000 findings \(manyNs / 1e6) ms")
        let small = try timings(64 << 10)
        let large = try timings(256 << 10)
        for (key, ns) in large.sorted(by: { $0.key < $1.key }) {
            let base = max(small[key] ?? 1, 1_000_000) // below 1 ms, timer noise dominates
            #expect(ns / base < 8, "\(key): 64 KiB \(base / 1e6) ms, 256 KiB \(ns / 1e6) ms")
            #expect(ns < 5_000_000_000, "\(key)")
        }
    }
}
