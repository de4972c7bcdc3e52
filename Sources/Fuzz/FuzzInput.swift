// How fuzz inputs are cut into what the engine would hand a parser, and how the harness
// checks invariants. Shared by every fuzz target.

/// A violated invariant in the harness: the one place a deliberate trap is wanted, so that
/// libFuzzer records the input. Library code never traps on input.
@inline(never)
func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
               file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { preconditionFailure("fuzz invariant: \(message())", file: file, line: line) }
}

/// Reads an input front to back; past the end every read gives zero, so any input is valid.
struct FuzzReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var isAtEnd: Bool { position >= bytes.count }
    var remaining: Int { max(0, bytes.count - position) }

    mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func uint16() -> UInt16 { UInt16(byte()) | UInt16(byte()) << 8 }

    mutating func uint32() -> UInt32 { UInt32(uint16()) | UInt32(uint16()) << 16 }

    /// Up to `count` bytes (fewer at the end of the input).
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let n = min(max(0, count), remaining)
        defer { position += n }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + n)])
    }

    /// Everything not read yet.
    mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// One step of a byte stream as reassembly hands it to a parser, in the stream formats of the
/// `http`, `sse`, `websocket` and `decoder` targets.
///
/// The input is the stream's bytes with `0xFE` as an escape: `FE FE` is a literal `FE`, and
/// `FE c` (any other `c`) is a command: `c % 4` = 0 switches direction (client → server first),
/// 1 cuts the feed here (`c >> 2` is a small argument), 2 is a gap of `((c >> 2) + 1)²` bytes (1 to
/// 4096) in the current direction, 3 ends the current direction. So a seed is plain protocol text, and a
/// mutation that inserts `FE` splits, reorders or damages the stream.
enum StreamStep: Equatable {
    case feed(toServer: Bool, bytes: [UInt8])
    case cut(argument: Int)
    case gap(toServer: Bool, length: Int)
    case end(toServer: Bool)
}

enum StreamSteps {
    static let escape: UInt8 = 0xFE

    static func parse(_ input: UnsafeRawBufferPointer) -> [StreamStep] {
        var steps: [StreamStep] = []
        var toServer = true
        var current: [UInt8] = []
        func flush() {
            if !current.isEmpty { steps.append(.feed(toServer: toServer, bytes: current)) }
            current.removeAll(keepingCapacity: true)
        }
        var i = 0
        let n = input.count
        while i < n {
            let b = input[i]
            i += 1
            if b != escape { current.append(b); continue }
            guard i < n else { current.append(b); break }
            let c = input[i]
            i += 1
            if c == escape { current.append(c); continue }
            flush()
            switch c % 4 {
            case 0: toServer.toggle()
            case 1: steps.append(.cut(argument: Int(c >> 2)))
            case 2: steps.append(.gap(toServer: toServer, length: (Int(c >> 2) + 1) * (Int(c >> 2) + 1)))
            default: steps.append(.end(toServer: toServer))
            }
        }
        flush()
        return steps
    }
}

/// Touches every byte so the address sanitizer sees a read of the whole buffer.
@inline(never)
func fuzzTouch(_ bytes: UnsafeRawBufferPointer) -> UInt8 {
    var x: UInt8 = 0
    for b in bytes { x ^= b }
    return x
}
