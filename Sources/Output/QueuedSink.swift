import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the output path did, for the `stats` event: a slow or vanished sink never stalls
/// capture, so what it could not take is dropped, and counted here.
public struct OutputStats: Sendable, Equatable {
    /// Events accepted but not yet handed to the sinks (waiting, or being written now).
    public var queued = 0
    /// Events handed to the sinks.
    public var written = 0
    /// Events dropped because the queue was full (the sinks could not keep up).
    public var dropped = 0
    /// Events a sink dropped because its destination was unavailable (summed over sinks).
    public var sinkDropped = 0
    public var writeErrors = 0
    public var reconnects = 0
    /// Each sink's own figures, by kind (`file`, `stdout`, `unix`, `syslog_tcp`, ...; summed per kind).
    public var sinks: [String: SinkCounters] = [:]
    public init() {}
}

/// Decouples the capture thread from the sinks: events go into a bounded queue that one writer
/// thread drains into every sink in order. With `.drop` (live capture) a full queue drops the
/// event and counts it; with `.block` (replay, where waiting loses nothing) the producer waits.
/// Reopening (SIGHUP) travels through the queue, so it happens between two events.
public final class QueuedSink: EventSink, @unchecked Sendable {
    public enum Overflow: Sendable { case drop, block }

    private enum Item {
        case line([UInt8], String?)
        case reopen
    }

    private struct State {
        var pending: [Item] = []
        var pendingBytes = 0
        var closing = false
        var producerWaiting = false
        /// Events accepted into the queue so far (written, or waiting, or being written now).
        var accepted = 0
        var stats = OutputStats()
    }

    // The sinks are touched only by the writer thread once it runs (and by `close` after joining).
    private let sinks: [EventSink]
    private let labels: [String]
    private let maxEvents: Int
    private let maxBytes: Int
    private let overflow: Overflow
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let space = DispatchSemaphore(value: 0)
    private var thread = pthread_t()
    private var started = false
    private var closed = false

    /// `sinks`: each with the kind its figures are reported under. `maxEvents`/`maxBytes`: the
    /// bound of what may wait.
    public init(sinks: [(label: String, sink: EventSink)], maxEvents: Int = 65_536, maxBytes: Int = 256 << 20,
                overflow: Overflow) {
        self.sinks = sinks.map(\.sink)
        self.labels = sinks.map(\.label)
        self.maxEvents = max(1, maxEvents)
        self.maxBytes = max(1, maxBytes)
        self.overflow = overflow
        let context = Unmanaged.passRetained(self).toOpaque()
        let rc = pthread_create(&thread, nil, { arg in
            guard let arg else { return nil }
            let me = Unmanaged<QueuedSink>.fromOpaque(arg).takeRetainedValue()
            me.writerLoop()
            return nil
        }, context)
        if rc == 0 {
            started = true
        } else {
            // No thread: balance the retain; writes then go straight to the sinks.
            Unmanaged<QueuedSink>.fromOpaque(context).release()
        }
    }

    public func write(line: [UInt8]) { enqueue(line, type: nil) }

    public func write(line: [UInt8], type: String) { enqueue(line, type: type) }

    private func enqueue(_ line: [UInt8], type: String?) {
        guard started else {
            for s in sinks { s.write(line: line) }
            state.withLock { $0.stats.written += 1 }
            return
        }
        while true {
            let (accepted, wasEmpty) = state.withLock { s -> (Bool?, Bool) in
                if s.closing { return (false, false) }
                if s.pending.count < maxEvents && s.pendingBytes + line.count <= maxBytes {
                    let wasEmpty = s.pending.isEmpty
                    s.pending.append(.line(line, type))
                    s.pendingBytes += line.count
                    s.accepted += 1
                    return (true, wasEmpty)
                }
                if overflow == .drop {
                    s.stats.dropped += 1
                    return (false, false)
                }
                s.producerWaiting = true
                return (nil, false)
            }
            switch accepted {
            case true?:
                if wasEmpty { wake.signal() }
                return
            case false?:
                return
            case nil:
                wake.signal()
                _ = space.wait(timeout: .now() + .milliseconds(100))
            }
        }
    }

    /// The writer flushes the sinks whenever the queue runs empty; this only wakes it.
    public func flush() { if started { wake.signal() } }

    /// Reopen every sink (logrotate), in order with the events around it.
    public func reopen() {
        guard started else { for s in sinks { s.reopen() }; return }
        let wasEmpty = state.withLock { s -> Bool in
            let e = s.pending.isEmpty
            s.pending.append(.reopen)
            return e
        }
        if wasEmpty { wake.signal() }
    }

    /// Writes everything queued, then closes the sinks. Idempotent.
    public func close() {
        guard !closed else { return }
        closed = true
        if started {
            state.withLock { $0.closing = true }
            wake.signal()
            pthread_join(thread, nil)
        }
        for s in sinks { s.close() }
    }

    public var stats: OutputStats {
        state.withLock { s in
            var out = s.stats
            out.queued = s.accepted - s.stats.written
            return out
        }
    }

    private func writerLoop() {
        // Signals go to the capture thread, whose handlers break its read.
        // Only those the capture thread handles: SIGPIPE from a vanished standard-output reader
        // keeps its default (the process ends, as tcpdump does).
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP, SIGUSR1] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        var batch: [Item] = []
        while true {
            let closing = state.withLock { s -> Bool in
                swap(&batch, &s.pending)
                s.pendingBytes = 0
                if s.producerWaiting { s.producerWaiting = false; space.signal() }
                return s.closing
            }
            var written = 0
            for item in batch {
                switch item {
                case .line(let line, let type):
                    if let type { for s in sinks { s.write(line: line, type: type) } } else { for s in sinks { s.write(line: line) } }
                    written += 1
                case .reopen:
                    for s in sinks { s.reopen() }
                }
            }
            batch.removeAll(keepingCapacity: true)
            if written > 0 || closing {
                for s in sinks { s.flush() }
                var bySink: [String: SinkCounters] = [:]
                var total = SinkCounters()
                for (label, sink) in zip(labels, sinks) {
                    let c = sink.counters
                    bySink[label, default: SinkCounters()].add(c)
                    total.add(c)
                }
                state.withLock { s in
                    s.stats.written += written
                    s.stats.sinkDropped = total.dropped
                    s.stats.writeErrors = total.writeErrors
                    s.stats.reconnects = total.reconnects
                    s.stats.sinks = bySink
                }
            }
            if closing {
                // Anything queued after the last swap is written before leaving.
                let empty = state.withLock { $0.pending.isEmpty }
                if empty { return }
                continue
            }
            let empty = state.withLock { $0.pending.isEmpty }
            if empty { _ = wake.wait(timeout: .now() + .milliseconds(200)) }
        }
    }
}

extension SinkCounters {
    mutating func add(_ o: SinkCounters) {
        written += o.written
        dropped += o.dropped
        droppedSlow += o.droppedSlow
        droppedOversized += o.droppedOversized
        writeErrors += o.writeErrors
        connectFailures += o.connectFailures
        reconnects += o.reconnects
    }
}
