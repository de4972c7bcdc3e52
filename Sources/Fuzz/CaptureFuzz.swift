import SonarCapture
import SonarDetect
import SonarEngine
import SonarOutput
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A capture file as `mcpsonar read` takes it: written to a temporary file, opened by libpcap
/// (`PcapSource.openFile`: pcap or pcapng, any damage), each packet through the whole engine with
/// the shipped detection rules, then the end of input.
///
/// Input: the file's bytes. A file libpcap refuses must give `CaptureError.cannotOpen` with a
/// message; a damaged file stops with `.error` and a message. libpcap itself is not instrumented,
/// so coverage guidance comes from the engine behind it.
enum CaptureFuzz {
    /// At most this many packets of one input go through the engine.
    static let maxPackets = 4096

    /// The repository's `rules/` folder, or `SONAR_FUZZ_RULES`; nil (no detection) if it does not load.
    static let detection: DetectionConfig? = {
        let root: String
        if let env = getenv("SONAR_FUZZ_RULES") {
            root = String(cString: env)
        } else {
            var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
            parts.removeLast(3) // Sources/Fuzz/CaptureFuzz.swift
            root = parts.joined(separator: "/") + "/rules"
        }
        return try? DetectionConfig.load(root: root)
    }()

    static let path: String = {
        var isDir = stat()
        let dir = stat("/dev/shm", &isDir) == 0 ? "/dev/shm" : "/tmp"
        return "\(dir)/sonar-fuzz-capture-\(getpid()).pcap"
    }()

    static func run(_ input: UnsafeRawBufferPointer) {
        guard write(input) else { return }
        let source: PcapSource
        // libpcap keeps the file open: unlinking it at once leaves nothing behind in /dev/shm.
        defer { unlink(path) }
        do throws(CaptureError) {
            source = try PcapSource.openFile(path)
        } catch {
            fuzzCheck(!error.description.isEmpty, "refusal without a message")
            return
        }
        var config = EngineConfig()
        config.detection = detection
        let engine = Engine(config: config, sink: NullSink())
        var packets = 0
        reading: while packets < maxPackets {
            switch source.next() {
            case .packet(let packet):
                fuzzCheck(packet.bytes.count <= max(packet.wireLength, packet.bytes.count), "caplen past the wire length")
                _ = fuzzTouch(packet.bytes)
                // As the replay does: the packet after the next, read ahead for the flow hint.
                let ahead = source.upcoming()
                if let ahead { _ = fuzzTouch(ahead) }
                engine.anticipate(ahead, linkType: source.linkType)
                engine.process(packet, linkType: source.linkType)
                packets += 1
            case .timeout:
                fuzzCheck(false, "a file read timed out")
            case .end:
                break reading
            case .error(let message):
                fuzzCheck(!message.isEmpty, "read error without a message")
                break reading
            }
        }
        engine.finish()
    }

    private static func write(_ input: UnsafeRawBufferPointer) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var offset = 0
        while offset < input.count {
            guard let base = input.baseAddress else { return false }
            let n = Glibc.write(fd, base + offset, input.count - offset)
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

/// Discards every event line.
final class NullSink: EventSink {
    func write(line: [UInt8]) {}
    func flush() {}
    func close() {}
}
