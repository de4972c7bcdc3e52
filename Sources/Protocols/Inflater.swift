// Bounded, incremental gzip/deflate decoding with zlib for HTTP Content-Encoding and
// WebSocket permessage-deflate (RFC 7692).
import CZlib

/// Inflates one HTTP body (or one WebSocket direction) in fixed 16 KiB output steps, so memory
/// never depends on what the sender claims or how well the data compresses. Enforces an absolute
/// output size and an output/input ratio (a deflate bomb is stopped at the limit, never
/// allocated). With `.raw` the stream persists across messages: `beginMessage()` restarts the
/// budget, `reset()` drops the window (no context takeover).
final class Inflater {
    enum Format {
        /// gzip (RFC 1952); zlib's auto-detection also takes a zlib stream here.
        case gzip
        /// "deflate": RFC 9110 means zlib-wrapped (RFC 1950), but many servers send raw RFC 1951
        /// data; the first two bytes decide.
        case deflate
        /// Raw RFC 1951 data, no header (WebSocket permessage-deflate). Always inflated with a
        /// 32 KiB window: a larger window decodes anything a smaller one produced.
        case raw
    }

    /// Anomaly names reported for each kind of failure, so each protocol keeps its own names.
    struct FailureNames {
        var error: String
        var tooLarge: String
        var ratio: String
        static let http = FailureNames(error: "http.decompression_error", tooLarge: "http.decompressed_too_large",
                                       ratio: "http.decompression_ratio")
    }

    enum Outcome: Equatable {
        case ok
        /// The compressed stream ended; any further input is ignored.
        case finished
        /// Stopped for good: the anomaly name to report.
        case failed(String)
        /// The sink asked to stop.
        case stopped
    }

    private static let step = 16 * 1024
    /// Output step plus zlib's inflate state and 32 KiB window.
    static let approximateFootprint = step + 7 * 1024 + 32 * 1024

    private let strm: UnsafeMutablePointer<z_stream>
    private let out: UnsafeMutableRawPointer
    private let format: Format
    private var initialized = false
    private var done = false
    /// For `.deflate`: the first byte while waiting for the second one to tell zlib from raw.
    private var firstByte: UInt8?
    private let maxOutput: Int
    private let maxRatio: Int
    private let names: FailureNames
    /// The compressed stream reached its end marker.
    private(set) var isFinished = false
    private(set) var totalIn = 0
    private(set) var totalOut = 0

    init(format: Format, maxOutput: Int, maxRatio: Int, names: FailureNames = .http) {
        self.format = format
        self.names = names
        self.maxOutput = maxOutput
        self.maxRatio = maxRatio
        strm = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        strm.initialize(to: z_stream())
        out = UnsafeMutableRawPointer.allocate(byteCount: Inflater.step, alignment: 8)
    }

    deinit {
        if initialized { inflateEnd(strm) }
        strm.deinitialize(count: 1)
        strm.deallocate()
        out.deallocate()
    }

    private func start(windowBits: Int32) -> Bool {
        // inflateInit2 is a C macro; call the function it expands to.
        let rc = inflateInit2_(strm, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        initialized = rc == Z_OK
        return initialized
    }

    /// Inflates `input`, handing each produced piece to `sink` (return false to stop).
    func inflate(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        if done { return .finished }
        if input.isEmpty { return .ok }
        if !initialized {
            switch format {
            case .gzip:
                // 15 + 32: zlib detects gzip or zlib headers itself.
                if !start(windowBits: 15 + 32) { return .failed(names.error) }
            case .raw:
                if !start(windowBits: -15) { return .failed(names.error) }
            case .deflate:
                guard let b0 = firstByte ?? input.first else { return .ok }
                let rest = firstByte == nil ? UnsafeRawBufferPointer(rebasing: input.dropFirst()) : input
                guard let b1 = rest.first else {
                    firstByte = b0
                    return .ok
                }
                // A zlib header: CM = 8, window <= 32K, and the 16-bit header divisible by 31.
                let isZlib = b0 & 0x0F == 8 && b0 >> 4 <= 7 && (UInt16(b0) << 8 | UInt16(b1)) % 31 == 0
                if !start(windowBits: isZlib ? 15 : -15) { return .failed(names.error) }
                if firstByte != nil {
                    firstByte = nil
                    let head: [UInt8] = [b0]
                    let r = head.withUnsafeBytes { run($0, sink) }
                    if r != .ok { return r }
                }
            }
        }
        return run(input, sink)
    }

    private func run(_ input: UnsafeRawBufferPointer, _ sink: (UnsafeRawBufferPointer) -> Bool) -> Outcome {
        // zlib counts in 32 bits: hand it at most 1 GiB at a time.
        let slice = 1 << 30
        if input.count > slice {
            var k = 0
            while k < input.count {
                let r = run(UnsafeRawBufferPointer(rebasing: input[k..<min(input.count, k + slice)]), sink)
                if r != .ok { return r }
                k += slice
            }
            return .ok
        }
        guard let base = input.baseAddress, !input.isEmpty else { return .ok }
        strm.pointee.next_in = UnsafeMutablePointer(mutating: base.assumingMemoryBound(to: Bytef.self))
        strm.pointee.avail_in = uInt(input.count)
        defer {
            strm.pointee.next_in = nil
            strm.pointee.avail_in = 0
        }
        while true {
            let before = strm.pointee.avail_in
            strm.pointee.next_out = out.assumingMemoryBound(to: Bytef.self)
            strm.pointee.avail_out = uInt(Inflater.step)
            let rc = CZlib.inflate(strm, Z_NO_FLUSH)
            let produced = Inflater.step - Int(strm.pointee.avail_out)
            totalIn += Int(before - strm.pointee.avail_in)
            // What was inflated before an error or the size cap still reaches the sink, cut
            // exactly at the cap: what the sink sees never depends on how the input was split.
            let deliverable = min(produced, max(0, maxOutput - totalOut))
            totalOut += produced
            if deliverable > 0 && !sink(UnsafeRawBufferPointer(start: out, count: deliverable)) {
                done = true
                return .stopped
            }
            if rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR {
                done = true
                return .failed(names.error)
            }
            if totalOut > maxOutput {
                done = true
                return .failed(names.tooLarge)
            }
            // Deflate cannot exceed about 1032:1; past the threshold a higher ratio is hostile.
            // (Where it trips depends on how much input zlib had consumed: a heuristic guard.)
            if totalOut > 64 * 1024 && totalOut / max(totalIn, 1) > maxRatio {
                done = true
                return .failed(names.ratio)
            }
            if rc == Z_STREAM_END {
                done = true
                isFinished = true
                return .finished
            }
            // Loop guard: stop when zlib neither consumed nor produced anything.
            if strm.pointee.avail_in == 0 && produced < Inflater.step { return .ok }
            if produced == 0 && before == strm.pointee.avail_in { return .ok }
        }
    }

    // MARK: - Persistent streams (WebSocket)

    /// Starts the output budget (size and ratio) of a new message; the window is kept.
    func beginMessage() {
        totalIn = 0
        totalOut = 0
    }

    /// Forgets the window and any failure: the next input starts a fresh stream.
    func reset() {
        // inflateReset keeps zlib's allocations: no malloc per message without context takeover.
        if initialized && inflateReset(strm) != Z_OK {
            inflateEnd(strm)
            initialized = false
        }
        done = false
        isFinished = false
        firstByte = nil
        beginMessage()
    }

    /// After the stream's final block (a sender may end a message with BFINAL set, RFC 7692
    /// 7.2.3.4): starts a new stream that still sees the last 32 KiB of output, so later messages
    /// may reference it (context takeover). Returns false if zlib refuses.
    func restartKeepingWindow() -> Bool {
        guard initialized else { return true }
        var dict = [UInt8](repeating: 0, count: 32 * 1024)
        var len: uInt = 0
        let got = dict.withUnsafeMutableBufferPointer { inflateGetDictionary(strm, $0.baseAddress, &len) }
        guard got == Z_OK, inflateReset(strm) == Z_OK else { return false }
        done = false
        isFinished = false
        if len > 0 {
            let set = dict.withUnsafeBufferPointer { inflateSetDictionary(strm, $0.baseAddress, len) }
            if set != Z_OK { return false }
        }
        return true
    }
}
