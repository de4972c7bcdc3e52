import Foundation
import SonarFuzz
import Testing

/// Every curated seed and every input a fuzzer ever failed on, replayed through the same entry
/// points libFuzzer calls (without the sanitizers): a regression traps here as it did there.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func files(_ kind: String, _ target: FuzzTarget) -> [URL] {
        let dir = root.appendingPathComponent(kind).appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { dir.appendingPathComponent($0) }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsRun(_ target: FuzzTarget) throws {
        let seeds = Self.files("seeds", target)
        #expect(!seeds.isEmpty, "no seeds for \(target.rawValue) under Fuzz/seeds")
        for url in seeds {
            let bytes = try [UInt8](Data(contentsOf: url))
            #expect(bytes.count <= target.maxLength, "\(url.lastPathComponent) is longer than -max_len")
            target.run(bytes)
        }
    }

    @Test(arguments: FuzzTarget.allCases)
    func regressionsRun(_ target: FuzzTarget) throws {
        for url in Self.files("regressions", target) {
            target.run(try [UInt8](Data(contentsOf: url)))
        }
    }

    @Test func streamStepsFormat() {
        // Plain bytes are one feed; FE FE is a literal FE; FE 00 switches direction.
        let input: [UInt8] = Array("GET /".utf8) + [0xFE, 0xFE, 0xFE, 0x00] + Array("HTTP".utf8)
        #expect(FuzzTarget.allCases.count == 8)
        input.withUnsafeBytes { FuzzTarget.http.run($0) }
    }
}
