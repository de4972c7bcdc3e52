import SonarCore

/// What the line parser reports.
public enum LineJSONOutput: Sendable, Equatable {
    /// One line of JSON text (without its line end).
    case message(Direction, [UInt8])
    /// A Swift SDK NetworkTransport heartbeat: magic `F0 9F 92 93` and a UInt64 timestamp, no newline.
    case heartbeat(Direction)
    case anomaly(Direction, String)
}

public struct LineJSONLimits: Sendable {
    public var maxLineBytes = 16 << 20
    /// Bytes looked at before deciding whether a stream is newline-delimited JSON-RPC.
    public var sniffBytes = 8 << 10
    public init() {}
}

/// Newline-delimited JSON-RPC over a plain TCP connection, as the official Swift SDK's
/// NetworkTransport sends it: each message is JSON followed by `\n`; heartbeats are 12 raw bytes
/// between messages. A connection is taken as such only when its first line opens a JSON object
/// (or array) and names `"jsonrpc"`, or when it starts with a heartbeat.
public final class LineJSONParser {
    public enum Verdict: Sendable { case undecided, lineJSON, other }

    public let limits: LineJSONLimits
    public private(set) var verdict: Verdict { get { storedVerdict } set { storedVerdict = newValue } }
    /// Read by the engine on every delivery, from another module: unchecked behind the accessor,
    /// as `HTTPConnectionParser.isHTTP` is.
    @exclusivity(unchecked) private var storedVerdict: Verdict = .undecided
    public private(set) var counters = Counters()

    private struct Side {
        var line: [UInt8] = []
        /// Skipping a line that broke a limit or followed a gap, until its newline.
        var discarding = false
        /// Bytes still to skip of a heartbeat.
        var heartbeatLeft = 0
        /// Bytes of a possible heartbeat magic seen at a message boundary.
        var magic: [UInt8] = []
    }

    private var sides = [Side(), Side()]
    /// Everything seen before the verdict, per direction, in arrival order.
    private var sniffed: [(Direction, [UInt8])] = []
    private var sniffedBytes = 0

    private static let heartbeatMagic: [UInt8] = [0xF0, 0x9F, 0x92, 0x93]
    private static let jsonrpcKey = Array(#""jsonrpc""#.utf8)

    public init(limits: LineJSONLimits = .init()) { self.limits = limits }

    /// Bytes held (capacity), for the engine's budget of application-layer buffers.
    public var bufferedBytes: Int {
        sides.reduce(sniffedBytes) { $0 + $1.line.capacity + $1.magic.capacity }
    }

    public func feed(_ bytes: UnsafeRawBufferPointer, direction: Direction, emit: (LineJSONOutput) -> Void) {
        switch verdict {
        case .other: return
        case .lineJSON: consume(bytes, direction: direction, emit: emit)
        case .undecided:
            sniffed.append((direction, Array(bytes)))
            sniffedBytes += bytes.count
            decide()
            if verdict == .lineJSON {
                let held = sniffed
                sniffed = []
                for (d, b) in held { b.withUnsafeBytes { consume($0, direction: d, emit: emit) } }
            } else if verdict == .other {
                sniffed = []
            }
        }
    }

    /// Lost bytes: the line they fall in is damaged; parsing resumes after the next newline.
    public func gap(_ length: Int, direction: Direction) {
        guard verdict != .other else { return }
        if verdict == .undecided { verdict = .other; sniffed = []; return }
        var side = sides[direction.index]
        side.line.removeAll(keepingCapacity: true)
        side.magic.removeAll()
        side.heartbeatLeft = 0
        side.discarding = true
        sides[direction.index] = side
        counters.add("ndjson.gap")
    }

    /// The direction ended: a last line without a newline is still a message if it is complete JSON;
    /// the caller's JSON parser decides.
    public func end(direction: Direction, emit: (LineJSONOutput) -> Void) {
        guard verdict == .lineJSON else { return }
        var side = sides[direction.index]
        if !side.discarding && !side.line.isEmpty && !isBlank(side.line) {
            emit(.message(direction, side.line))
        }
        side.line = []
        sides[direction.index] = side
    }

    // MARK: - deciding

    private func decide() {
        // Look at the first non-blank bytes of each direction that spoke.
        for dir in [Direction.toServer, .toClient] {
            var text: [UInt8] = []
            for (d, b) in sniffed where d == dir { text += b }
            guard !text.isEmpty else { continue }
            var i = 0
            while i < text.count, text[i] == 0x20 || text[i] == 0x0A || text[i] == 0x0D || text[i] == 0x09 { i += 1 }
            if i == text.count { continue }
            let rest = text[i...]
            if rest.count >= 4 && Array(rest.prefix(4)) == LineJSONParser.heartbeatMagic { verdict = .lineJSON; return }
            if rest.count < 4 && LineJSONParser.heartbeatMagic.starts(with: rest) { continue }
            guard rest.first == UInt8(ascii: "{") || rest.first == UInt8(ascii: "[") else { verdict = .other; return }
            let firstLine = rest.prefix { $0 != 0x0A }
            if contains(firstLine, LineJSONParser.jsonrpcKey) { verdict = .lineJSON; return }
            if firstLine.count < rest.count { verdict = .other; return } // a whole line without "jsonrpc"
        }
        if sniffedBytes >= limits.sniffBytes { verdict = .other }
    }

    private func contains(_ hay: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        guard hay.count >= needle.count, let first = needle.first else { return false }
        var i = hay.startIndex
        while i <= hay.endIndex - needle.count {
            if hay[i] == first && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    // MARK: - lines

    private func consume(_ bytes: UnsafeRawBufferPointer, direction: Direction, emit: (LineJSONOutput) -> Void) {
        var side = sides[direction.index]
        defer { sides[direction.index] = side }
        var i = 0
        let n = bytes.count
        while i < n {
            if side.heartbeatLeft > 0 {
                let take = min(side.heartbeatLeft, n - i)
                side.heartbeatLeft -= take
                i += take
                continue
            }
            if side.discarding {
                guard let nl = index(of: 0x0A, in: bytes, from: i) else { return }
                side.discarding = false
                i = nl + 1
                continue
            }
            // At a message boundary a heartbeat may start: its magic is never valid JSON text.
            if side.line.isEmpty && (bytes[i] == 0xF0 || !side.magic.isEmpty) {
                side.magic.append(bytes[i])
                i += 1
                if !LineJSONParser.heartbeatMagic.starts(with: side.magic) {
                    // Not a heartbeat after all: those bytes begin a line.
                    side.line = side.magic
                    side.magic = []
                } else if side.magic.count == 4 {
                    side.magic = []
                    side.heartbeatLeft = 8
                    emit(.heartbeat(direction))
                }
                continue
            }
            guard let nl = index(of: 0x0A, in: bytes, from: i) else {
                append(bytes, i..<n, to: &side, direction: direction, emit: emit)
                return
            }
            append(bytes, i..<nl, to: &side, direction: direction, emit: emit)
            if !side.discarding {
                if !isBlank(side.line) { emit(.message(direction, side.line)) }
            }
            side.discarding = false
            side.line.removeAll(keepingCapacity: true)
            i = nl + 1
        }
    }

    private func append(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, to side: inout Side,
                        direction: Direction, emit: (LineJSONOutput) -> Void) {
        guard !side.discarding else { return }
        if side.line.count + range.count > limits.maxLineBytes {
            counters.add("ndjson.line_too_long")
            emit(.anomaly(direction, "ndjson.line_too_long"))
            side.line.removeAll()
            side.discarding = true
            return
        }
        side.line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[range]))
    }

    private func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var i = start
        while i < bytes.count {
            if bytes[i] == byte { return i }
            i += 1
        }
        return nil
    }

    private func isBlank(_ line: [UInt8]) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }
    }
}
