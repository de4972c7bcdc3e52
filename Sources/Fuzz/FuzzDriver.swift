// Choosing a target in the one fuzz executable, and replaying inputs without libFuzzer.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

public enum FuzzDriver {
    /// The target named by `SONAR_FUZZ_TARGET`, else by an executable name `fuzz-NAME` (a link to
    /// `sonar-fuzz`), else nil.
    public static func target(argv0: String?) -> FuzzTarget? {
        if let env = getenv("SONAR_FUZZ_TARGET"), let t = FuzzTarget(rawValue: String(cString: env)) { return t }
        guard let argv0 else { return nil }
        let name = argv0.split(separator: "/").last.map(String.init) ?? argv0
        guard name.hasPrefix("fuzz-") else { return nil }
        return FuzzTarget(rawValue: String(name.dropFirst("fuzz-".count)))
    }

    /// `sonar-fuzz TARGET FILE...` without libFuzzer: runs each file through the target's entry
    /// (a crash reproduces as a crash). Each line of report goes to `say` (the executable prints
    /// it: this library writes nothing itself). Returns the exit status.
    public static func replay(_ arguments: [String], say: (String) -> Void) -> Int32 {
        guard arguments.count >= 2, let target = FuzzTarget(rawValue: arguments[1]) else {
            let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")
            say("usage: sonar-fuzz \(names) FILE...   (replays inputs; build with scripts/fuzz.sh to fuzz)")
            return 2
        }
        for path in arguments.dropFirst(2) {
            guard let bytes = readFile(path) else {
                say("\(path): cannot read")
                return 1
            }
            target.run(bytes)
            say("\(path): ok (\(bytes.count) bytes)")
        }
        return 0
    }

    static func readFile(_ path: String) -> [UInt8]? {
        guard let f = fopen(path, "rb") else { return nil }
        defer { fclose(f) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, 65536, f) }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }
}
