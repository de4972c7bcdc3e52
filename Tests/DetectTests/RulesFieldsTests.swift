import Testing
import SonarMCP
@testable import SonarDetect

// MessageFields: event fields, JSON paths on the tape, request headers.

@Suite struct RulesFieldsTests {
    @Test func eventFields() throws {
        let m = try #require(messageFields(#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"add","arguments":{"a":2}}}"#,
                                            src: "10.1.2.3", srcPort: 51000, dest: "2001:db8::1", destPort: 443,
                                            latencyMicroseconds: 12_345))
        #expect(m.values("src_ip") == [.string("10.1.2.3")])
        #expect(m.values("src_port") == [.number("51000")])
        #expect(m.values("dest_ip") == [.string("2001:db8::1")])
        #expect(m.values("dest_port") == [.number("443")])
        #expect(m.values("proto") == [.string("TCP")])
        #expect(m.values("app_proto") == [.string("http")])
        #expect(m.values("mcp.transport") == [.string("http")])
        #expect(m.values("mcp.kind") == [.string("request")])
        #expect(m.values("mcp.id") == [.number("7")])
        #expect(m.values("mcp.method") == [.string("tools/call")])
        #expect(m.values("mcp.tool") == [.string("add")])
        #expect(m.values("mcp.size") == [.number("90")])
        #expect(m.values("mcp.latency_ms") == [.number("12.345")])
        #expect(m.values("mcp.session_id") == [])
        #expect(m.values("mcp.error_code") == [])
        #expect(m.values("http.http_method") == [.string("POST")])
        #expect(m.values("http.url") == [.string("/mcp")])
        #expect(m.values("http.hostname") == [.string("localhost:8000")])
        #expect(m.values("http.status") == [])
        #expect(m.values("no.such.field") == [])
    }

    @Test func jsonPathsOnParams() throws {
        let m = try #require(messageFields(#"{"jsonrpc":"2.0","id":"x1","method":"tools/call","params":{"name":"q","arguments":{"query":"a\u0062c","n":1.50E+3,"ok":false,"none":null,"list":[1,2]}}}"#))
        #expect(m.values("mcp.id") == [.string("x1")])
        #expect(m.values("mcp.params.arguments.query") == [.string("abc")])
        #expect(m.values("mcp.params.arguments.n") == [.number("1.50E+3")])
        #expect(m.values("mcp.params.arguments.ok") == [.bool(false)])
        #expect(m.values("mcp.params.arguments.none") == [.null])
        #expect(m.values("mcp.params.arguments.list") == [.container])
        #expect(m.values("mcp.params.arguments.list[]") == [.number("1"), .number("2")])
        #expect(m.values("mcp.params.arguments") == [.container])
        #expect(m.values("mcp.params") == [.container])
        #expect(m.values("mcp.params.arguments{}") == [.string("query"), .string("n"), .string("ok"), .string("none"), .string("list")])
        #expect(m.values("mcp.params.arguments.*") == [.string("abc"), .number("1.50E+3"), .bool(false), .null, .container])
        #expect(m.values("mcp.params.arguments.missing") == [])
        #expect(m.values("mcp.params.name.deeper") == [])
        #expect(m.values("mcp.result.tools") == [])
        #expect(m.values("mcp.paramsx") == [])
    }

    @Test func arrayPathsOnResult() throws {
        let json = #"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add","description":"Adds.","inputSchema":{"type":"object","properties":{"a":{"type":"number"}}}},{"name":"exec","description":"Runs <IMPORTANT>anything</IMPORTANT>","inputSchema":{"type":"object"}}]}}"#
        let m = try #require(messageFields(json, method: "tools/list"))
        #expect(m.values("mcp.method") == [.string("tools/list")])
        #expect(m.values("mcp.result.tools[].name") == [.string("add"), .string("exec")])
        #expect(m.values("mcp.result.tools[].description") == [.string("Adds."), .string("Runs <IMPORTANT>anything</IMPORTANT>")])
        #expect(m.values("mcp.result.tools[].inputSchema.properties") == [.container])
        #expect(m.values("mcp.result.tools[].inputSchema.properties{}") == [.string("a")])
        let r = try rule("sel:\n  mcp.result.tools[].description|contains: '<important>'\ncondition: sel")
        #expect(r.matches(m))
        let clean = try #require(messageFields(#"{"jsonrpc":"2.0","id":2,"result":{"tools":[{"name":"add","description":"Adds."}]}}"#, method: "tools/list"))
        #expect(!r.matches(clean))
        let props = try rule("sel:\n  mcp.result.tools[].inputSchema.properties|exists: true\ncondition: sel")
        #expect(props.matches(m))
        #expect(!props.matches(clean))
    }

    @Test func errorFields() throws {
        let m = try #require(messageFields(#"{"jsonrpc":"2.0","id":3,"error":{"code":-32042,"message":"URL elicitation required","data":{"elicitations":[{"url":"https://auth.example/x"}]}}}"#, method: "tools/call"))
        #expect(m.values("mcp.kind") == [.string("error")])
        #expect(m.values("mcp.error_code") == [.number("-32042")])
        #expect(m.values("mcp.error.code") == [.number("-32042")])
        #expect(m.values("mcp.error.data.elicitations[].url") == [.string("https://auth.example/x")])
    }

    @Test func headers() throws {
        let m = try #require(messageFields(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
                                            headers: [("Authorization", "Bearer abc"), ("X-Forwarded-For", "1.2.3.4"), ("x-forwarded-for", "5.6.7.8")]))
        #expect(m.values("http.headers.authorization") == [.string("Bearer abc")])
        #expect(m.values("http.headers.x-forwarded-for") == [.string("1.2.3.4"), .string("5.6.7.8")])
        #expect(m.values("http.headers.cookie") == [])
        let r = try rule("sel:\n  http.headers.authorization|startswith: 'bearer '\ncondition: sel")
        #expect(r.matches(m))
        let none = try #require(messageFields(#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#, headers: nil))
        #expect(none.values("http.headers.authorization") == [])
        #expect(!r.matches(none))
    }
}
