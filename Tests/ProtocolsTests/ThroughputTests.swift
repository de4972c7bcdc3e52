import SonarCore
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import SonarProtocols

/// Coarse throughput check, run only with SONAR_BENCH=1 (build with -c release for real numbers):
/// catches accidental quadratic behaviour rather than measuring precisely.
@Suite("HTTP throughput", .enabled(if: getenv("SONAR_BENCH") != nil))
struct ThroughputTests {
    private func seconds(_ body: () -> Void) -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    private func feedSegments(_ p: HTTPConnectionParser, _ data: [UInt8], _ dir: Direction, _ count: inout Int) {
        data.withUnsafeBytes { buf in
            var i = 0
            while i < buf.count {
                let e = min(buf.count, i + 1448)
                p.feed(UnsafeRawBufferPointer(rebasing: buf[i..<e]), direction: dir) { _ in count += 1 }
                i = e
            }
        }
    }

    @Test func throughput() {
        let event = bytes("event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":1,\"progress\":0.5}}\r\n\r\n: ping\r\n\r\n")
        var sseBody: [UInt8] = []
        while sseBody.count < 32 << 20 { sseBody += event }
        let sse = bytes("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n") + chunked(sseBody, size: 4000)
        let bin = [UInt8](repeating: 0x5A, count: 64 << 20)
        let skipped = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: \(bin.count)\r\n\r\n") + bin
        let json = "[" + String(repeating: "{\"a\":1},", count: 1 << 20) + "{}]"
        let jsonResp = bytes("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: \(json.utf8.count)\r\n\r\n" + json)
        for (name, data) in [("sse", sse), ("skipped body", skipped), ("json body", jsonResp)] {
            let p = HTTPConnectionParser()
            var outputs = 0
            let t = seconds { feedSegments(p, data, .toClient, &outputs) }
            print("\(name): \(data.count >> 20) MiB in \(t) s = \(Double(data.count) / t / 1e6) MB/s, \(outputs) outputs")
            #expect(outputs > 0)
        }
    }
}
