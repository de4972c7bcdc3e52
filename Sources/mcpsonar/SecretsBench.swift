// `mcpsonar bench --secrets-strings FILE` (hidden): the secret scanner alone on the strings the
// detector sees, stage by stage, to compare with a multi-pattern engine
// (scripts/bench/secret-scan, docs/performance.md).
import SonarDetect
#if canImport(Glibc)
import Glibc
#endif

enum SecretsBench {
    /// Times the stages of `scanner` over every string of `path` (records of a 4-byte
    /// little-endian length and the bytes), best of `repetitions` of `passes` passes each, and
    /// writes one line per stage with the figures of one pass (as scripts/bench/secret-scan/vs_scan.c).
    static func run(path: String, scanner: SecretScanner, repetitions: Int = 5, passes: Int = 20) {
        let data = readFile(path)
        var ranges: [Range<Int>] = []
        var at = 0
        while at + 4 <= data.count {
            let length = Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24
            guard at + 4 + length <= data.count else { fail("\(path): truncated record at byte \(at)") }
            ranges.append((at + 4)..<(at + 4 + length))
            at += 4 + length
        }
        let bytes = ranges.reduce(0) { $0 + $1.count }
        // The same strings joined by NUL (no literal holds one), scanned in one call.
        var joined: [UInt8] = []
        joined.reserveCapacity(bytes + ranges.count)
        for r in ranges { joined += data[r]; joined.append(0) }
        // Building the tables from the loaded patterns, as Vectorscan's compile is timed.
        var build = Double.infinity
        for _ in 0..<repetitions {
            let t0 = clock(CLOCK_MONOTONIC)
            let rebuilt = SecretScanner(patterns: scanner.patterns)
            build = min(build, clock(CLOCK_MONOTONIC) - t0)
            if rebuilt.patterns.count != scanner.patterns.count { fail("rebuilt scanner differs") }
        }
        var text = "secret scanner: \(scanner.patterns.count) patterns, tables built in \(f(build * 1e3, 3)) ms;"
            + " input \(ranges.count) strings, \(bytes) bytes; best of \(repetitions), each \(passes) passes\n"
        func time(_ name: String, _ pass: () -> Int) {
            var wall = Double.infinity, cpu = Double.infinity, found = 0
            for _ in 0..<repetitions {
                var count = 0
                let w0 = clock(CLOCK_MONOTONIC), c0 = clock(CLOCK_THREAD_CPUTIME_ID)
                for _ in 0..<passes { count &+= pass() }
                wall = min(wall, (clock(CLOCK_MONOTONIC) - w0) / Double(passes))
                cpu = min(cpu, (clock(CLOCK_THREAD_CPUTIME_ID) - c0) / Double(passes))
                found = count / passes
            }
            let n = Double(max(ranges.count, 1)), mb = Double(bytes) / 1e6
            text += "\(name): \(found), wall \(f(wall, 6)) s = \(f(mb / wall)) MB/s, \(f(wall * 1e9 / n)) ns/string;"
                + " cpu \(f(cpu, 6)) s = \(f(mb / cpu)) MB/s, \(f(cpu * 1e9 / n)) ns/string\n"
        }
        data.withUnsafeBufferPointer { all in
            func stage(_ name: String, _ body: (UnsafeBufferPointer<UInt8>) -> Int) {
                time(name) {
                    var count = 0
                    for r in ranges { count &+= body(UnsafeBufferPointer(rebasing: all[r])) }
                    return count
                }
            }
            stage("prefilter (literal hits)") { scanner.literalHits(utf8: $0) }
            stage("prefilter + validation (matches as written)") { scanner.matchesAsWritten(utf8: $0) }
            stage("scan(utf8:) with decode-and-rescan (matches)") { scanner.scan(utf8: $0).count }
        }
        joined.withUnsafeBufferPointer { all in
            time("prefilter, one block (literal hits)") { scanner.literalHits(utf8: all) }
        }
        var out = Array(text.utf8)
        out.withUnsafeMutableBytes { _ = write(1, $0.baseAddress, $0.count) }
    }

    private static func clock(_ id: clockid_t) -> Double {
        var ts = timespec()
        clock_gettime(id, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    private static func f(_ v: Double, _ places: Int = 1) -> String {
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        return String((v * scale).rounded() / scale)
    }

    private static func readFile(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { fail("\(path): cannot open") }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 { fail("\(path): read failed") }
            if n == 0 { return out }
            out += chunk[0..<n]
        }
    }
}
