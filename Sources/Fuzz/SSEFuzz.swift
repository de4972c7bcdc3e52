import SonarProtocols

/// `SSEParser` fed an event stream cut anywhere.
///
/// Input: the stream in the `StreamSteps` format; a direction switch means "the next byte starts
/// an event" (`resumeAtBoundary`, as after a chunk boundary found past a gap), a gap is `gap()`,
/// an end is `end()`.
///
/// Invariants: no event's data, type or id longer than the event limit; what the parser holds
/// within the limit (plus the up to three bytes of a BOM that turned out not to be one).
enum SSEFuzz {
    static let maxEventBytes = 4096

    static func run(_ input: UnsafeRawBufferPointer) {
        var parser = SSEParser(maxEventBytes: maxEventBytes)
        var previousToServer = true
        for step in StreamSteps.parse(input) {
            switch step {
            case .feed(let toServer, let bytes):
                if toServer != previousToServer {
                    previousToServer = toServer
                    parser.resumeAtBoundary()
                }
                bytes.withUnsafeBytes { raw in
                    parser.feed(raw, onEvent: { event in
                        fuzzCheck(event.data.count <= maxEventBytes, "event data of \(event.data.count) bytes")
                        fuzzCheck(event.event.utf8.count <= maxEventBytes, "event type of \(event.event.utf8.count) bytes")
                        fuzzCheck((event.id?.utf8.count ?? 0) <= maxEventBytes, "event id too long")
                    }, onAnomaly: { name in
                        fuzzCheck(!name.isEmpty, "unnamed anomaly")
                    })
                }
            case .gap:
                parser.gap()
            case .end:
                parser.end()
                fuzzCheck(parser.bufferedBytes == 0, "\(parser.bufferedBytes) bytes held after the end")
            case .cut:
                break
            }
            fuzzCheck(parser.bufferedBytes <= maxEventBytes + 3, "parser holds \(parser.bufferedBytes) bytes")
        }
    }
}
