import Foundation
import SonarCapture
import SonarCore
import SonarDecode
import SonarDetect
@testable import SonarEngine
import SonarOutput

/// Collects JSON lines in memory.
final class MemorySink: EventSink {
    var lines: [String] = []
    func write(line: [UInt8]) { lines.append(String(decoding: line, as: UTF8.self)) }
    func flush() {}
    func close() {}
}

/// The hard variants scripts/fixtures/variants.py makes of every Streamable-HTTP original.
let variantKinds = ["tiny", "reorder", "sll2", "null", "raw", "vlan6", "qinq6", "pcapng"]

/// This test process's directory for the files its tests write, removed when the process ends:
/// a run of the tests leaves nothing in the system's temporary directory (each run left a dozen
/// directories there, about 2 MB).
let scratchDirectory: URL = {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mcpsonar-tests-\(getpid())")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    atexit {
        try? FileManager.default.removeItem(at: FileManager.default.temporaryDirectory
            .appendingPathComponent("mcpsonar-tests-\(getpid())"))
    }
    return dir
}()

/// A directory named `name` under `scratchDirectory`, made if missing.
func scratchSubdirectory(_ name: String) throws -> URL {
    let dir = scratchDirectory.appendingPathComponent(name)
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes `bytes` to a file named `name` in this test process's scratch directory.
func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> String {
    let path = scratchDirectory.appendingPathComponent(name).path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

enum Repo {
    /// The repository root, found from this file's path.
    static let root: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = root.appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    /// Original captures (not variants), by file name.
    static func originals() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
    }

    /// Crafted captures, as paths under Fixtures/.
    static func crafted() -> [String] {
        let dir = fixtures.appendingPathComponent("crafted")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted().map { "crafted/" + $0 }
    }

    static func variants(of original: String) -> [String] {
        let base = ((original as NSString).lastPathComponent as NSString).deletingPathExtension
        let dir = fixtures.appendingPathComponent("variants")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        // Exactly <original>-<kind>.<ext>: "mcp1-streamable-" must not take "mcp1-streamable-json-tiny".
        return names.filter { name in
            let stem = (name as NSString).deletingPathExtension
            return variantKinds.contains { stem == base + "-" + $0 }
        }.sorted().map { "variants/" + $0 }
    }

    /// The sensor's binary beside the test bundle (`swift build` puts both in one folder).
    static var binary: String {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("mcpsonar").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return root.appendingPathComponent(".build/debug/mcpsonar").path
    }
}

/// Runs the whole pipeline in-process on captures, with the shipped rules as the command line
/// does by default, and returns the JSON lines.
func runSensor(_ files: [String], payloads: Bool = false, detection: Bool = true) throws -> [String] {
    let sink = MemorySink()
    var config = EngineConfig()
    config.mcp.includePayloads = payloads
    if detection { config.detection = try DetectionConfig.load(root: Repo.root.appendingPathComponent("rules").path) }
    let engine = Engine(config: config, sink: sink)
    _ = try Runner(engine: engine).replay(files: files, diagnostics: { _ in })
    return sink.lines
}

func jsonObject(_ line: String) -> [String: Any] {
    (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? [:]
}

/// An event line without the fields that depend on packet timing.
func timeless(_ line: String) -> String {
    var o = jsonObject(line)
    o["timestamp"] = nil
    let data = (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])) ?? Data()
    return String(decoding: data, as: UTF8.self)
}

struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the `mcpsonar` binary.
func runBinary(_ arguments: [String]) throws -> ProcessResult {
    try runBinary(via: Repo.binary, arguments)
}

/// Runs `executable` (the sensor, or a wrapper that starts it) with `arguments`.
func runBinary(via executable: String, _ arguments: [String]) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
}

/// The stats event's resident memory differs from run to run: zero it for comparisons.
func withoutMemory(_ line: String) -> String {
    guard let r = line.range(of: #""memory_bytes":[0-9]+"#, options: .regularExpression) else { return line }
    return line.replacingCharacters(in: r, with: #""memory_bytes":0"#)
}

/// One loopback connection (client 127.0.0.1:40000, server 127.0.0.1:8000) through an engine with
/// `config` (the default: no detection), a frame a millisecond, as `frames` builds them: the lines written.
func runConnection(config: EngineConfig = EngineConfig(),
                   _ frames: (inout PacketBuilder, SonarEngine.Host, SonarEngine.Host) -> [[UInt8]]) -> [String] {
    let sink = MemorySink()
    let engine = Engine(config: config, sink: sink)
    var build = PacketBuilder()
    let client = SonarEngine.Host(address: 0x7F00_0001, port: 40000)
    let server = SonarEngine.Host(address: 0x7F00_0001, port: 8000)
    var time: Int64 = 1_795_000_000_000_000
    for frame in frames(&build, client, server) {
        time += 1000
        frame.withUnsafeBytes { raw in
            engine.process(CapturedPacket(timestamp: Timestamp(microseconds: time), bytes: raw, wireLength: raw.count),
                           linkType: LinkType.ethernet)
        }
    }
    engine.finish()
    return sink.lines
}
