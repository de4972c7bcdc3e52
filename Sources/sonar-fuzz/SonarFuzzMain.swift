// The fuzz executable. Built by scripts/fuzz.sh with `-sanitize=fuzzer[,address] -D SONAR_LIBFUZZER`,
// libFuzzer supplies `main` and calls the entry points below; the target comes from
// `SONAR_FUZZ_TARGET` or from the executable's name (`fuzz-json` → json). In an ordinary build
// it is a replay tool: `sonar-fuzz TARGET FILE...`.
import SonarFuzz
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

#if SONAR_LIBFUZZER
nonisolated(unsafe) var selectedTarget: FuzzTarget?

@_cdecl("LLVMFuzzerInitialize")
public func fuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    let argv0 = argv.pointee?.pointee.map { String(cString: $0) }
    selectedTarget = FuzzDriver.target(argv0: argv0)
    if selectedTarget == nil {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        say("sonar-fuzz: set SONAR_FUZZ_TARGET to one of: \(names)", fd: 2)
        exit(2)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget?.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
#else
@main
struct SonarFuzzReplay {
    static func main() {
        exit(FuzzDriver.replay(CommandLine.arguments, say: { say($0, fd: 1) }))
    }
}
#endif

/// One line to a file descriptor (the command line's way, as in mcpsonar).
func say(_ line: String, fd: Int32) {
    var bytes = Array((line + "\n").utf8)
    bytes.withUnsafeMutableBytes { _ = write(fd, $0.baseAddress, $0.count) }
}
