#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SonarCore

/// Where JSON lines go. One thread uses a sink (the writer): a sink is not thread-safe, and its
/// `counters` are read on that thread too.
///
/// Every line handed to `write` ends up counted once in `counters`: `written` when the destination
/// took it whole, `dropped` when it never will; at most a few lines are still pending in between
/// (a file sink's block buffer, the unsent tail of one line on a stream socket).
public protocol EventSink: AnyObject {
    func write(line: [UInt8])
    /// The same, when the caller knows the line's `event_type` (the syslog sink uses it as MSGID
    /// and to choose the severity, without looking into the line).
    func write(line: [UInt8], type: String)
    /// The same, for a line the caller holds in a buffer of its own (the session stage writes
    /// every event into one writer it keeps): a sink that copies lines into a buffer of its own
    /// takes them from there, without an Array made for each.
    func write(bytes: UnsafeRawBufferPointer, type: String)
    /// Pushes out whatever the sink holds, within its send timeout.
    func flush()
    func close()
    /// SIGHUP: a file sink closes and reopens its path (after logrotate renamed the file, the next
    /// lines go to a new file at the original path). Other sinks do nothing.
    func reopen()
    /// What became of the lines written so far.
    var counters: SinkCounters { get }
    /// The last failure (cannot connect, write error), for a diagnostic line; nil when none.
    var lastError: String? { get }
}

extension EventSink {
    public func write(line: [UInt8], type: String) { write(line: line) }
    public func write(bytes: UnsafeRawBufferPointer, type: String) { write(line: Array(bytes), type: type) }
    public func reopen() {}
    public var counters: SinkCounters { SinkCounters() }
    public var lastError: String? { nil }
}

/// What a sink did with the lines it was given.
public struct SinkCounters: Sendable, Equatable {
    /// Lines the destination took whole (a file: written by write(2); a socket: accepted by send(2)).
    public var written = 0
    /// Lines that will never arrive, whatever the cause: the destination absent or gone, not
    /// reading within the send timeout, a line too large for a datagram, a write error.
    public var dropped = 0
    /// Of `dropped`: lines given up because the peer did not take them within the send timeout.
    public var droppedSlow = 0
    /// Of `dropped`: lines too large for one datagram (unix datagram, syslog over UDP).
    public var droppedOversized = 0
    /// write(2)/send(2) calls that failed (a connection lost, a disk full); a full buffer is not one.
    public var writeErrors = 0
    /// Connection attempts that failed (no listener, refused, unreachable, name not resolved).
    public var connectFailures = 0
    /// Connections established after the one made at open (after a loss or a failed attempt).
    public var reconnects = 0

    public init() {}

    /// Adds these figures to a stats `Counters` as `output.<name>_written`, `output.<name>_dropped`, ...
    /// (the stats event groups them under `counters.output`). Zeros are added too, so a configured
    /// sink always shows up.
    public func record(into counters: inout Counters, name: String) {
        counters.add("output.\(name)_written", written)
        counters.add("output.\(name)_dropped", dropped)
        counters.add("output.\(name)_dropped_slow", droppedSlow)
        counters.add("output.\(name)_dropped_oversized", droppedOversized)
        counters.add("output.\(name)_write_errors", writeErrors)
        counters.add("output.\(name)_connect_failures", connectFailures)
        counters.add("output.\(name)_reconnects", reconnects)
    }
}

public enum SinkError: Error, CustomStringConvertible, Equatable {
    /// A file that cannot be opened: the path and why.
    case cannotOpen(String, String)
    /// An `-o` argument that names no usable destination: the argument and why.
    case invalidSpec(String, String)

    public var description: String {
        switch self {
        case .cannotOpen(let p, let why): return "cannot open output file \(p): \(why)"
        case .invalidSpec(let spec, let why): return "invalid output '\(spec)': \(why)"
        }
    }
}

/// Standard output or an append-mode file, through one file descriptor. Lines are buffered and
/// written in blocks of 64 KiB; `flush` pushes them out.
public final class FileSink: EventSink {
    private var fd: Int32
    /// Nil for standard output.
    private let path: String?
    // Unchecked exclusivity on the buffer and its line count (touched for every line): each
    // access is an append, a count or a store, or `flush`'s read of the bytes around write(2),
    // none of which runs code of this sink, so no two can overlap.
    @exclusivity(unchecked) private var buffer: [UInt8] = []
    /// Lines in `buffer`.
    @exclusivity(unchecked) private var pendingLines = 0
    private let flushThreshold = 64 << 10
    public private(set) var counters = SinkCounters()
    public private(set) var lastError: String?

    /// Failed write(2) calls (kept for callers of the first version; also `counters.writeErrors`).
    public var writeErrors: Int { counters.writeErrors }

    /// Standard output.
    public init() {
        fd = 1
        path = nil
        buffer.reserveCapacity(flushThreshold * 2)
    }

    /// A file opened for appending (created 0640 when missing), or emptied first with `truncate`.
    public init(path: String, truncate: Bool = false) throws(SinkError) {
        let d = open(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND) | O_CLOEXEC, 0o640)
        guard d >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        fd = d
        self.path = path
        buffer.reserveCapacity(flushThreshold * 2)
    }

    public func write(line: [UInt8]) {
        line.withUnsafeBytes { write(bytes: $0, type: "") }
    }

    public func write(bytes: UnsafeRawBufferPointer, type: String) {
        buffer.append(contentsOf: bytes)
        buffer.append(0x0A)
        pendingLines += 1
        if buffer.count >= flushThreshold { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        guard fd >= 0 else {
            counters.dropped += pendingLines
            discardBuffer()
            return
        }
        let failedAt: Int? = buffer.withUnsafeBytes { raw -> Int? in
            guard let base = raw.baseAddress else { return nil }
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, base + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    lastError = "write to \(path ?? "standard output"): \(String(cString: strerror(errno)))"
                    return offset
                }
                offset += n
            }
            return nil
        }
        if let failedAt {
            // Lines whose newline did not go out are lost (a line cut part-way included).
            var lost = 0
            for i in failedAt..<buffer.count where buffer[i] == 0x0A { lost += 1 }
            counters.writeErrors += 1
            counters.dropped += lost
            counters.written += pendingLines - lost
        } else {
            counters.written += pendingLines
        }
        discardBuffer()
    }

    private func discardBuffer() {
        buffer.removeAll(keepingCapacity: true)
        pendingLines = 0
    }

    /// Closes and reopens the same path for appending (never truncating), so lines after a rename
    /// by logrotate go to a new file at the path. When the path cannot be opened, lines keep going
    /// to the file already open (nothing is lost) and `lastError` says why. Standard output: nothing.
    public func reopen() {
        guard let path, fd >= 0 else { return }
        flush()
        let d = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o640)
        guard d >= 0 else {
            lastError = "cannot reopen output file \(path): \(String(cString: strerror(errno)))"
            return
        }
        _ = Glibc.close(fd)
        fd = d
    }

    public func close() {
        flush()
        if path != nil, fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
    }
}
