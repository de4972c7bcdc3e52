import Testing
import SonarCore
import SonarMCP
#if canImport(Glibc)
import Glibc
#endif
@testable import SonarDetect

/// Coarse throughput of the secrets scanner, run only with SONAR_BENCH=1 (build with -c release
/// for real numbers): catches accidental quadratic behaviour and gives the MB/s of the report.
@Suite("Secrets throughput", .enabled(if: getenv("SONAR_BENCH") != nil))
struct SecretThroughputTests {
    private func seconds(_ body: () -> Void) -> Double {
        var a = timespec(), b = timespec()
        clock_gettime(CLOCK_MONOTONIC, &a)
        body()
        clock_gettime(CLOCK_MONOTONIC, &b)
        return Double(b.tv_sec - a.tv_sec) + Double(b.tv_nsec - a.tv_nsec) / 1e9
    }

    /// Tool-result prose with the near misses real traffic has: ids, hashes, "sk-" inside words,
    /// `password:` in docs, one real-looking token per ~64 KiB.
    private func prose(bytes: Int) -> String {
        var r = FakeRandom(seed: 1)
        let words = ["the", "task-list", "session", "token", "password", "key", "AIza", "Bearer", "ask-me", "secret",
                     "result", "content", "type", "text", "error", "file", "path", "user", "data", "value"]
        var out = ""
        out.reserveCapacity(bytes + 256)
        var n = 0
        while out.utf8.count < bytes {
            n += 1
            switch r.next() % 10 {
            case 0: out += Fake.s(Alphabet.lowerHex, 32, seed: r.next()) + " "
            case 1: out += "password: see docs. "
            default: out += words[Int(r.next() % UInt64(words.count))] + " "
            }
            if n % 8000 == 0 { out += Fake.github("ghp_", seed: r.next()) + " " }
        }
        return out
    }

    @Test func throughput() {
        let scanner = SecretRules.scanner
        // The floor: text in which no two bytes start any literal.
        let quiet = String(repeating: "lorem ipsum dolor sit amet consectetur adipiscing elit ", count: (16 << 20) / 56)
        var none = 0
        let tq = seconds { none = scanner.scan(quiet).count }
        print("secrets scan quiet text: \(quiet.utf8.count >> 20) MiB in \(tq) s = \(Double(quiet.utf8.count) / tq / 1e6) MB/s")
        #expect(none == 0)
        let text = prose(bytes: 16 << 20)
        var found = 0
        var t = seconds { found = scanner.scan(text).count }
        print("secrets scan prose: \(text.utf8.count >> 20) MiB in \(t) s = \(Double(text.utf8.count) / t / 1e6) MB/s, \(found) matches")
        #expect(found > 0)

        // Strings of 4 KiB, as in JSON messages.
        let pieces = stride(from: 0, to: text.utf8.count - 4096, by: 4096).map { i in
            String(decoding: Array(text.utf8)[i..<(i + 4096)], as: UTF8.self)
        }
        found = 0
        t = seconds { for p in pieces { found += scanner.scan(p).count } }
        print("secrets scan 4 KiB strings: \((pieces.count * 4096) >> 20) MiB in \(t) s = \(Double(pieces.count * 4096) / t / 1e6) MB/s")

        var r = FakeRandom(seed: 2)
        let image = Fake.base64((0..<(12 << 20)).map { _ in UInt8(truncatingIfNeeded: r.next()) })
        t = seconds { found = scanner.scan(image).count }
        print("secrets scan base64 image: \(image.utf8.count >> 20) MiB in \(t) s = \(Double(image.utf8.count) / t / 1e6) MB/s")
        #expect(found == 0)

        // Whole messages through the detector: walk, every string and key, pointers for hits.
        var messages: [MCPMessageView] = []
        var total = 0
        for (i, p) in pieces.prefix(2000).enumerated() {
            let json = #"{"jsonrpc":"2.0","id":\#(i),"result":{"content":[{"type":"text","text":"\#(p)"}],"structuredContent":{"id":"3f2b8c1e-5d4a-4b7e-9c0f-1a2b3c4d5e6f","sha":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}}}"#
            total += json.utf8.count
            if let v = messageView(json) { messages.append(v) }
        }
        let detector = SecretDetector(scanner: scanner)
        found = 0
        t = seconds { for m in messages { detector.inspect(m, headers: nil) { _ in found += 1 } } }
        print("secrets detector messages: \(messages.count) (\(total >> 20) MiB) in \(t) s = \(Double(total) / t / 1e6) MB/s, \(found) findings")
        #expect(found > 0)
    }
}
