#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where JSON lines go. Lines are buffered and written in large blocks; `flush` pushes them out.
public protocol EventSink: AnyObject {
    func write(line: [UInt8])
    /// The same, for sinks that frame by event type (syslog's MSGID).
    func write(line: [UInt8], type: String)
    func flush()
    /// Reopen the destination (SIGHUP, after logrotate renamed the file).
    func reopen()
    func close()
}

extension EventSink {
    public func write(line: [UInt8], type: String) { write(line: line) }
    public func reopen() {}
}

public enum SinkError: Error, CustomStringConvertible {
    case cannotOpen(String, String)
    public var description: String {
        switch self { case .cannotOpen(let p, let why): return "cannot open output file \(p): \(why)" }
    }
}

/// Standard output or an append-mode file, through one file descriptor.
public final class FileSink: EventSink {
    private var fd: Int32
    private let ownsDescriptor: Bool
    private var buffer: [UInt8] = []
    private let flushThreshold = 64 << 10
    public private(set) var writeErrors = 0

    /// Standard output.
    public init() {
        fd = 1
        ownsDescriptor = false
        buffer.reserveCapacity(flushThreshold * 2)
    }

    /// A file opened for appending (created 0640 when missing), or emptied first with `truncate`.
    public init(path: String, truncate: Bool = false) throws(SinkError) {
        let d = open(path, O_WRONLY | O_CREAT | (truncate ? O_TRUNC : O_APPEND) | O_CLOEXEC, 0o640)
        guard d >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        fd = d
        ownsDescriptor = true
        buffer.reserveCapacity(flushThreshold * 2)
    }

    public func write(line: [UInt8]) {
        buffer.append(contentsOf: line)
        buffer.append(0x0A)
        if buffer.count >= flushThreshold { flush() }
    }

    public func flush() {
        guard !buffer.isEmpty else { return }
        buffer.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    writeErrors += 1
                    break
                }
                offset += n
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() {
        flush()
        if ownsDescriptor { _ = Glibc.close(fd); fd = -1 }
    }
}
