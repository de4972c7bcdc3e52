// swift-tools-version: 6.1
import PackageDescription

// One target per layer (see docs/ARCHITECTURE.md); dependencies point down the pipeline only.
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
        .target(name: "SonarCore", path: "Sources/Core"),
        .target(name: "SonarCapture", dependencies: ["SonarCore", "CPcap"], path: "Sources/Capture"),
        .target(name: "SonarDecode", dependencies: ["SonarCore"], path: "Sources/Decode"),
        .target(name: "SonarFlow", dependencies: ["SonarCore", "SonarDecode"], path: "Sources/Flow"),
        .target(name: "SonarProtocols", dependencies: ["SonarCore", "CZlib"], path: "Sources/Protocols"),
        .target(name: "SonarMCP", dependencies: [
            "SonarCore", "SonarProtocols",
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Sources/MCP"),
        .target(name: "SonarDetect", dependencies: [
            "SonarCore", "SonarProtocols", "SonarMCP",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], path: "Sources/Detect"),
        .target(name: "SonarOutput", dependencies: ["SonarCore", "SonarMCP", "SonarDetect"], path: "Sources/Output"),
        .target(name: "SonarEngine", dependencies: [
            "SonarCore", "SonarCapture", "SonarDecode", "SonarFlow", "SonarProtocols", "SonarMCP", "SonarDetect", "SonarOutput",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Sources/Engine"),
        .executableTarget(name: "mcpsonar", dependencies: [
            "SonarEngine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], path: "Sources/mcpsonar"),
        .testTarget(name: "DecodeTests", dependencies: ["SonarDecode"]),
        .testTarget(name: "FlowTests", dependencies: ["SonarFlow"]),
        .testTarget(name: "ProtocolsTests", dependencies: ["SonarProtocols"]),
        .testTarget(name: "MCPTests", dependencies: ["SonarMCP"]),
        .testTarget(name: "DetectTests", dependencies: ["SonarDetect"]),
        .testTarget(name: "OutputTests", dependencies: ["SonarOutput"]),
        .testTarget(name: "EngineTests", dependencies: [
            "SonarEngine",
            .product(name: "Crypto", package: "swift-crypto"),
        ],
                    resources: []),
    ]
)
