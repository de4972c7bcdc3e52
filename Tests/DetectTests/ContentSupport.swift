import Testing
import SonarCore
import SonarMCP
@testable import SonarDetect

/// The repository's `rules/content.yml`, found from this file's path.
func contentConfigPath() -> String {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)  // Tests/DetectTests/ContentSupport.swift
    return parts.joined(separator: "/") + "/rules/content.yml"
}

func shippedContentConfig() throws -> ContentConfig {
    try ContentConfig.load(path: contentConfigPath())
}

/// Drives messages through the real tracker (so responses know their request's method) and the
/// content detectors, as the engine does.
final class ContentHarness {
    let tracker = MCPTracker()
    let detectors: ContentDetectors
    /// Tool definitions answered from a cache, as the engine does, when given.
    let tools: ToolScanCache?
    var exchange = 0
    var clock: Int64 = 1_000_000
    let client = Endpoint(address: .v4(0x7F00_0001), port: 40000)
    let server = Endpoint(address: .v4(0x7F00_0001), port: 8000)

    init(config: ContentConfig? = nil, tools: ToolScanCache? = nil) throws {
        detectors = ContentDetectors(config: try config ?? shippedContentConfig())
        self.tools = tools
    }

    /// Findings on every message of one payload.
    func send(_ json: String, _ direction: Direction, exchange: Int) -> [Finding] {
        clock += 1000
        let p = MCPPayload(time: Timestamp(microseconds: clock), flowId: 1, client: client, server: server,
                           direction: direction, transport: .http, appProto: "http", exchange: exchange,
                           http: HTTPContext(method: "POST", url: "/mcp"), bytes: Array(json.utf8))
        var out: [Finding] = []
        tracker.process(p) { (event: MCPEvent, view: MCPMessageView) in
            detectors.inspect(view, event: event, tools: tools) { out.append($0) }
        }
        return out
    }

    /// A request (method and params JSON) and, if given, its response's result: the findings on
    /// the request, then those on the response.
    func exchange(_ method: String, params: String = "{}", result: String? = nil) -> (request: [Finding], response: [Finding]) {
        exchange += 1
        let id = exchange
        let request = send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)","params":\#(params)}"#, .toServer, exchange: id)
        guard let result else { return (request, []) }
        let response = send(#"{"jsonrpc":"2.0","id":\#(id),"result":\#(result)}"#, .toClient, exchange: id)
        return (request, response)
    }

    func call(_ arguments: String) -> [Finding] {
        exchange("tools/call", params: #"{"name":"t","arguments":\#(arguments)}"#).request
    }

    func toolResult(_ text: String) -> [Finding] {
        exchange("tools/call", params: #"{"name":"t","arguments":{}}"#,
                 result: #"{"content":[{"type":"text","text":\#(jsonString(text))}],"isError":false}"#).response
    }

    func toolsList(description: String) -> [Finding] {
        exchange("tools/list", result: #"{"tools":[{"name":"add","description":\#(jsonString(description)),"inputSchema":{"type":"object"}}]}"#).response
    }
}

/// A JSON string literal for `s`, escaping only what JSON requires (other characters raw).
func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += "\\u00" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16) }
            else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}

func sha(_ s: String) -> String { Redaction.sha256Hex(s.utf8) }

extension Array where Element == Finding {
    func rule(_ id: String) -> [Finding] { filter { $0.rule == id } }
    var rules: [String] { map(\.rule) }
}

/// Unicode TAG characters spelling `ascii`.
func tags(_ ascii: String) -> String {
    var s = ""
    for u in ascii.unicodeScalars { if let t = Unicode.Scalar(0xE0000 + u.value) { s.unicodeScalars.append(t) } }
    return s
}
