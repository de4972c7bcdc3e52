// The fuzz targets: one entry per parser, each driving the real code the way the engine does.

/// A parser under fuzzing. `run` never traps on any input unless an invariant the harness
/// checks is broken (that is a finding).
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// `PacketDecoder`: link type from the first byte, then frames (see `DecoderFuzz`).
    case decoder
    /// Two `TCPReassembler`s of one connection sharing a `ReassemblyContext` (see `ReassemblyFuzz`).
    case reassembly
    /// `HTTPConnectionParser` both directions, beside the line-JSON and TLS ClientHello parsers,
    /// handing over to WebSocket after a 101 (see `HTTPFuzz`).
    case http
    /// `SSEParser` (see `SSEFuzz`).
    case sse
    /// `WebSocketConnectionParser` with permessage-deflate negotiated (see `WebSocketFuzz`).
    case websocket
    /// The bounded JSON parser, JSON-RPC classification, canonical and compact JSON (see `JSONFuzz`).
    case json
    /// The Sigma rule compiler and the secrets/content/methods/policy/egress loaders (see `RulesFuzz`).
    case rules
    /// A capture file through libpcap and the whole engine with detection (see `CaptureFuzz`).
    case capture

    /// Runs one input.
    public func run(_ input: UnsafeRawBufferPointer) {
        switch self {
        case .decoder: DecoderFuzz.run(input)
        case .reassembly: ReassemblyFuzz.run(input)
        case .http: HTTPFuzz.run(input)
        case .sse: SSEFuzz.run(input)
        case .websocket: WebSocketFuzz.run(input)
        case .json: JSONFuzz.run(input)
        case .rules: RulesFuzz.run(input)
        case .capture: CaptureFuzz.run(input)
        }
    }

    public func run(_ input: [UInt8]) {
        input.withUnsafeBytes { run($0) }
    }

    /// libFuzzer's `-max_len` for the target: large enough for the protocol's interesting
    /// structures, small enough to keep executions fast.
    public var maxLength: Int {
        switch self {
        case .decoder, .reassembly, .sse, .rules: return 8192
        case .http, .websocket, .json: return 16384
        case .capture: return 65536
        }
    }
}
