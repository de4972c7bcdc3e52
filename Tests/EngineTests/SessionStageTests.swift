import Foundation
import SonarCore
import SonarDetect
@testable import SonarEngine
import SonarMCP
import SonarOutput
import Testing

/// The session stage remembers the flows of recent messages direct-mapped by their flow-stage id
/// (1 024 slots). Flows whose ids share a slot, a flow that ends while another holds its slot, a
/// slot reused by a new flow, and a message after its flow ended: every event still names the
/// right public flow, and each flow's `alerted` is its own.
@Test func rememberedFlowsFollowStartsAndEnds() throws {
    var config = EngineConfig()
    config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    let sink = MemorySink()
    let stage = SessionStage(config: config, sink: sink)
    let client = Endpoint(address: .v4(0x7F00_0001), port: 40000)
    let server = Endpoint(address: .v4(0x7F00_0001), port: 8000)
    var clock: Int64 = 1_000_000
    func message(_ local: UInt64, secret: Bool = false) {
        clock += 1000
        let text = secret ? "key AKIAQ7ZP3XKV9MLT2WRB" : "hello"
        let json = #"{"jsonrpc":"2.0","id":\#(clock),"method":"tools/call","params":{"name":"echo","arguments":{"text":"\#(text)"}}}"#
        stage.mcpPayload(MCPPayload(time: Timestamp(microseconds: clock), flowId: local, client: client, server: server,
                                    direction: .toServer, transport: .http, appProto: "http", exchange: 0, sessionId: nil,
                                    protocolVersionHeader: nil, http: HTTPContext(method: "POST", url: "/mcp"),
                                    bytes: Array(json.utf8)), headers: nil)
    }
    func end(_ local: UInt64) {
        stage.flowEnded(FlowRecord(flowId: local, client: client, server: server, transport: .tcp, appProto: "http",
                                   start: .zero, end: Timestamp(microseconds: clock), packets: (1, 1), bytes: (1, 1),
                                   reason: "closed", sni: nil, httpHost: nil, dnsName: nil, alerted: false))
    }

    stage.flowStarted(1)       // public 1
    stage.flowStarted(1025)    // public 2, the same slot as 1
    message(1)
    message(1025, secret: true)
    message(1)
    end(1)
    stage.flowStarted(2049)    // public 3, the slot again
    message(2049)
    message(1025)
    end(1025)
    message(1025)              // after its end: the flow-stage id stands, as it always did
    end(2049)

    let events = sink.lines.compactMap { line -> (type: String, flow: Int, alerted: Bool?)? in
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let type = o["event_type"] as? String, let flow = o["flow_id"] as? Int else { return nil }
        return (type, flow, (o["flow"] as? [String: Any])?["alerted"] as? Bool)
    }
    #expect(events.filter { $0.type == "mcp" }.map(\.flow) == [1, 2, 1, 3, 2, 1025])
    #expect(events.filter { $0.type == "alert" }.map(\.flow) == [2])
    #expect(events.filter { $0.type == "flow" }.map(\.flow) == [1, 2, 3])
    #expect(events.filter { $0.type == "flow" }.map(\.alerted) == [false, true, false])
}
