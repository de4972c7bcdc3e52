import Foundation
import SonarCore
import SonarDetect
@testable import SonarEngine
import SonarFlow
import Testing

/// A request carrying more secrets than a message reports (`SecretDetector.maxReportedPerMessage`):
/// sixty-four alerts, the rest counted, every secret masked where the event quotes the message,
/// and the `--payloads` text withheld rather than masked against them all.
@Test func aMessageFullOfSecretsIsReportedBoundedAndMaskedWhole() throws {
    var config = EngineConfig()
    config.mcp.includePayloads = true
    config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path)
    let keys = flood(101)
    // The tool's name, the last string of the message, is a secret past the reported ones.
    let body = Array(#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"arguments":{"keys":[\#(keys.dropLast().map { "\"\($0)\"" }.joined(separator: ","))]},"name":"\#(keys[100])"}}"#.utf8)
    let request = Array("POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body
    let lines = runConnection(config: config) { build, client, server -> [[UInt8]] in
        [build.tcp(from: client, to: server, seq: 100, ack: 0, flags: [.syn], payload: []),
         build.tcp(from: server, to: client, seq: 500, ack: 101, flags: [.syn, .ack], payload: []),
         build.tcp(from: client, to: server, seq: 101, ack: 501, flags: [.ack, .psh], payload: request),
         build.tcp(from: server, to: client, seq: 501, ack: UInt32(101 + request.count), flags: [.ack], payload: [])]
    }
    let objects = lines.map(jsonObject)
    let alerts = objects.filter { $0["event_type"] as? String == "alert" }
    let secretAlerts = alerts.filter { (($0["alert"] as? [String: Any])?["rule"] as? String)?.hasPrefix("secret.") == true }
    #expect(secretAlerts.count == 64)
    let mcp = try #require(objects.first { $0["event_type"] as? String == "mcp" }?["mcp"] as? [String: Any])
    #expect(mcp["tool"] as? String == Redaction.mask(keys[100]))
    #expect(mcp["message"] == nil)
    let counters = objects.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
    let all = counters?["counters"] as? [String: Any]
    #expect((all?["secrets"] as? [String: Any])?["unreported"] as? Int == 37)
    #expect((all?["redaction"] as? [String: Any])?["payload_withheld"] as? Int == 1)
    for line in lines {
        for key in keys { #expect(!line.contains(key), "\(key) in \(line.prefix(120))") }
    }
}

/// `n` distinct AWS access key ids: for each, sixteen distinct characters of a 32-character
/// alphabet (entropy 4 bits a character, past the pattern's check), ordered by a mix of the
/// character and the key's number.
private func flood(_ n: Int) -> [String] {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".unicodeScalars)
    return (0..<n).map { i in
        let order = alphabet.sorted { a, b in
            func rank(_ c: Unicode.Scalar) -> UInt64 {
                var x = UInt64(c.value) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(i + 1) &* 0xBF58_476D_1CE4_E5B9
                x ^= x >> 31
                return x &* 0x94D0_49BB_1331_11EB
            }
            return rank(a) < rank(b)
        }
        return "AKIA" + String(String.UnicodeScalarView(order.prefix(16)))
    }
}
