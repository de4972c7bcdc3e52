import SonarOutput

/// One `-o` argument: where events go.
struct OutputSpec {
    enum Kind { case standardOutput, file(String) }
    var kind: Kind

    static func parse(_ text: String) throws(SinkError) -> OutputSpec {
        if text == "-" { return OutputSpec(kind: .standardOutput) }
        return OutputSpec(kind: .file(text))
    }

    /// Standard output or a file: written directly when it is the only output of a replay.
    var isFile: Bool { true }

    func open() throws(SinkError) -> EventSink {
        switch kind {
        case .standardOutput: return FileSink()
        case .file(let path): return try FileSink(path: path)
        }
    }

    /// The sinks' own figures, summed, for the `stats` event.
    static func counters(of sinks: [EventSink]) -> (dropped: Int, errors: Int, reconnects: Int) {
        var errors = 0
        for s in sinks { if let f = s as? FileSink { errors += f.writeErrors } }
        return (0, errors, 0)
    }
}
