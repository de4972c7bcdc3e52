// swift-tools-version: 6.1
import PackageDescription

// One target per layer (see docs/ARCHITECTURE.md); dependencies point down the pipeline only.

// Swift's run-time exclusivity checks stay on in release builds too: turning them off
// (`-enforce-exclusivity=unchecked`) measured 7-8 % less CPU on the benchmark corpus with default
// rules and 30 % on bulk traffic (docs/performance.md), but would turn any violation that input can
// reach into undefined behaviour instead of a trap. For a sensor whose input is chosen by the
// adversary that is the wrong trade; the setting is kept here so the measurement can be repeated.
// Single fields where no two accesses can overlap are marked `@exclusivity(unchecked)` instead,
// each with its reason (docs/performance.md, "Third round").
//
// Release builds keep a frame pointer in every function that calls another, as SwiftPM builds
// them on Linux (the Swift backtracer and `perf record -g` walk the chain), but not in leaf
// functions, which call nothing: 1.2 % fewer instructions on the benchmark corpus (dropping the
// frame pointer everywhere, `--omit-frame-pointers`, saved 3.2 %, and would leave crash
// backtraces and profiles without our frames). A crash or sample inside a leaf then shows the
// leaf and its caller's callers, not its caller itself (docs/performance.md, "Fifteenth round").
//
// Release builds are optimised with a profile of the sensor at work (`Profiles/mcpsonar.profdata`,
// LLVM's IR-level profile-guided optimisation): the hot call sites are inlined and laid out by how
// often they ran, the hot functions are placed together (one section each, grouped by the linker)
// and the blocks that never ran are split off to the cold end. On the benchmark corpus: 9 % fewer
// instructions, 29 % fewer instruction-cache misses, one worker 1.13x as fast by the medians of
// interleaved runs (docs/performance.md, "Nineteenth round"). `scripts/pgo.sh` makes the profile again after the code has changed (a
// function changed since is compiled without its profile, as it was before). MCPSONAR_PGO=off
// builds without it; MCPSONAR_PGO=generate builds the instrumented sensor the script runs.
// (Swift's own `-profile-use`, at the SIL level, stops on an assertion in the compiler.)
let packageRoot = String(#filePath.dropLast("Package.swift".count))
let profile = packageRoot + "Profiles/mcpsonar.profdata"
let pgo: [String]
var pgoLink: [LinkerSetting] = []
switch Context.environment["MCPSONAR_PGO"] {
case "off":
    pgo = []
case "generate":
    // Counters updated atomically: the two-worker run is profiled too.
    pgo = ["-Xfrontend", "-ir-profile-generate", "-Xllvm", "-instrprof-atomic-counter-update-all"]
    pgoLink = [.unsafeFlags(["-profile-generate"], .when(configuration: .release))]
default:
    pgo = ["-Xfrontend", "-ir-profile-use=\(profile)", "-Xfrontend", "-function-sections",
           "-Xllvm", "-enable-split-machine-functions"]
}
// LLVM always runs: by default the compiler keeps an object whose IR has not changed, so a new
// profile or a change of these settings would not reach the modules whose code stayed the same.
let release: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-momit-leaf-frame-pointer",
                                             "-Xfrontend", "-disable-incremental-llvm-codegen"] + pgo,
                                            .when(configuration: .release))]

let package = Package(
    name: "MCPSonar",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "mcpsonar", targets: ["mcpsonar"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.0.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CPcap", path: "Sources/CPcap", pkgConfig: "libpcap",
                       providers: [.apt(["libpcap-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .target(name: "SonarCore", path: "Sources/Core", swiftSettings: release),
        // What a capture file read through a mapping needs from C: the SIGBUS guard (a signal
        // handler must not reach the Swift runtime).
        .target(name: "CMappedFile", path: "Sources/CMappedFile"),
        // Hints to the processor that Swift cannot give (a prefetch), inlined where they are used.
        .target(name: "CHints", path: "Sources/CHints"),
        .target(name: "SonarCapture", dependencies: ["SonarCore", "CPcap", "CMappedFile", "CHints"], path: "Sources/Capture", swiftSettings: release),
        .target(name: "SonarDecode", dependencies: ["SonarCore"], path: "Sources/Decode", swiftSettings: release),
        .target(name: "SonarFlow", dependencies: ["SonarCore", "SonarDecode", "CHints"], path: "Sources/Flow", swiftSettings: release),
        .target(name: "SonarProtocols", dependencies: ["SonarCore", "CZlib"], path: "Sources/Protocols", swiftSettings: release),
        .target(name: "SonarMCP", dependencies: [
            "SonarCore", "SonarProtocols",
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Sources/MCP", swiftSettings: release),
        .target(name: "SonarDetect", dependencies: [
            "SonarCore", "SonarProtocols", "SonarMCP",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Sources/Detect", swiftSettings: release),
        .target(name: "SonarOutput", dependencies: ["SonarCore", "SonarMCP", "SonarDetect"], path: "Sources/Output", swiftSettings: release),
        .target(name: "SonarEngine", dependencies: [
            "SonarCore", "SonarCapture", "SonarDecode", "SonarFlow", "SonarProtocols", "SonarMCP", "SonarDetect", "SonarOutput",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Sources/Engine", swiftSettings: release),
        .executableTarget(name: "mcpsonar", dependencies: [
            "SonarEngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Sources/mcpsonar", swiftSettings: release,
        // The sensor's allocator is jemalloc (docs/performance.md, "Fifth round"): with workers,
        // the session thread frees what the workers allocated, and glibc's malloc makes those
        // frees wait on the workers' arena locks. Only the executable links it; the libraries and
        // their tests use the system's malloc.
        linkerSettings: [.linkedLibrary("jemalloc", .when(platforms: [.linux]))] + pgoLink),
        // Fuzz targets (docs/fuzzing.md): the entries in SonarFuzz, one executable that is a
        // libFuzzer binary when scripts/fuzz.sh builds it with -sanitize=fuzzer, a replay tool otherwise.
        .target(name: "SonarFuzz", dependencies: [
            "SonarCore", "SonarCapture", "SonarDecode", "SonarFlow", "SonarProtocols", "SonarMCP", "SonarDetect",
            "SonarOutput", "SonarEngine",
        ], path: "Sources/Fuzz"),
        .executableTarget(name: "sonar-fuzz", dependencies: ["SonarFuzz"], path: "Sources/sonar-fuzz"),
        .testTarget(name: "DecodeTests", dependencies: ["SonarDecode"]),
        .testTarget(name: "FlowTests", dependencies: ["SonarFlow"]),
        .testTarget(name: "ProtocolsTests", dependencies: ["SonarProtocols"]),
        .testTarget(name: "MCPTests", dependencies: ["SonarMCP"]),
        .testTarget(name: "DetectTests", dependencies: ["SonarDetect"]),
        .testTarget(name: "OutputTests", dependencies: ["SonarOutput"]),
        .testTarget(name: "FuzzTests", dependencies: ["SonarFuzz"]),
        .testTarget(name: "EngineTests", dependencies: [
            "SonarEngine",
            .product(name: "Crypto", package: "swift-crypto"),
        ],
                    resources: []),
    ]
)
