import Foundation
import SonarCapture
import SonarCore
import SonarDecode
@testable import SonarEngine
import SonarFlow
import Testing

/// A connection is closed once both directions have reached their FIN, whichever packet completes
/// that: here the server's FIN comes before its last data, and the data, which carries no FIN,
/// closes the flow. Without either FIN the flow stays open to the end of input.
@Test func aFlowClosesWhenTheDataBeforeAnEarlyFINArrives() throws {
    func run(serverFIN: Bool) -> String? {
        let sink = MemorySink()
        let engine = Engine(config: EngineConfig(), sink: sink)
        var build = PacketBuilder()
        let client = Host(address: 0x7F00_0001, port: 40000)
        let server = Host(address: 0x7F00_0001, port: 8000)
        var time: Int64 = 1_795_000_000_000_000
        func send(_ frame: [UInt8]) {
            time += 1000
            frame.withUnsafeBytes { raw in
                engine.process(CapturedPacket(timestamp: Timestamp(microseconds: time), bytes: raw, wireLength: raw.count),
                               linkType: LinkType.ethernet)
            }
        }
        let data = Array("hello".utf8)
        send(build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []))
        send(build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []))
        send(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack], payload: []))
        send(build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack, .psh], payload: data))
        // The server's FIN, after five bytes the capture has not seen yet.
        send(build.tcp(from: server, to: client, seq: 506, ack: 106, flags: serverFIN ? [.fin, .ack] : [.ack], payload: []))
        send(build.tcp(from: client, to: server, seq: 106, ack: 501, flags: [.fin, .ack], payload: []))
        // The missing bytes, without FIN: they complete the server's direction.
        send(build.tcp(from: server, to: client, seq: 501, ack: 107, flags: [.ack, .psh], payload: data))
        engine.finish()
        let flows = sink.lines.filter { $0.contains(#""event_type":"flow""#) }
        guard flows.count == 1, let o = try? JSONSerialization.jsonObject(with: Data(flows[0].utf8)) as? [String: Any] else { return nil }
        return (o["flow"] as? [String: Any])?["reason"] as? String
    }
    #expect(run(serverFIN: true) == "closed")
    #expect(run(serverFIN: false) == "shutdown")
}
