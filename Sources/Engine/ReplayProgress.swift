#if canImport(Glibc)
import Glibc
#endif

/// The replay progress line on a terminal: bytes read, percent, MB/s and events so far,
/// redrawn in place on standard error at most a few times a second, erased at the end.
public final class ReplayProgress {
    private let totalBytes: Int64
    private let start = monotonicSeconds()
    private var lastDraw = 0.0
    private let output: ([UInt8]) -> Void
    private var drawn = false

    /// `output` receives the bytes to write (standard error by default).
    public init(totalBytes: Int64, output: (([UInt8]) -> Void)? = nil) {
        self.totalBytes = max(totalBytes, 0)
        self.output = output ?? { bytes in bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) } }
    }

    /// Whether standard error is a terminal (the line is shown only there).
    public static var standardErrorIsTerminal: Bool { isatty(2) == 1 }

    public func update(bytesRead: Int64, events: Int) {
        let now = monotonicSeconds()
        guard now - lastDraw >= 0.25 else { return }
        lastDraw = now
        draw(Self.line(bytesRead: bytesRead, totalBytes: totalBytes, seconds: now - start, events: events))
    }

    /// Erases the line, leaving the terminal as it was.
    public func finish(bytesRead: Int64, events: Int) { clear() }

    /// Erases the line (before another message goes to standard error).
    public func clear() {
        guard drawn else { return }
        output(Array("\r\u{1B}[K".utf8))
        drawn = false
    }

    private func draw(_ text: String) {
        output(Array("\r\u{1B}[K\(text)".utf8))
        drawn = true
    }

    /// `mcpsonar: 12.3 MB of 40.0 MB (30.8%), 25.1 MB/s, 4,812 events`.
    public static func line(bytesRead: Int64, totalBytes: Int64, seconds: Double, events: Int) -> String {
        let mb = Double(bytesRead) / 1e6
        let rate = seconds > 0 ? mb / seconds : 0
        var text = "mcpsonar: \(fixed(mb)) MB"
        if totalBytes > 0 {
            let percent = min(100, 100 * Double(bytesRead) / Double(totalBytes))
            text += " of \(fixed(Double(totalBytes) / 1e6)) MB (\(fixed(percent))%)"
        }
        text += ", \(fixed(rate)) MB/s, \(grouped(events)) events"
        return text
    }

    static func fixed(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10)"
    }

    static func grouped(_ n: Int) -> String {
        let digits = Array(String(n))
        var out = ""
        for (i, c) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return out
    }
}
