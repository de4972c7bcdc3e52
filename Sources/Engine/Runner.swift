import SonarCapture
import SonarCore
import SonarOutput
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Set by SIGINT/SIGTERM; the capture loop checks it between reads.
let stopRequested = Atomic<Bool>(false)
/// The live capture's libpcap handle (as a bit pattern), so the signal handler can break a read
/// that is blocked in the kernel: with immediate mode, libpcap may wait with no timeout.
let liveHandleBits = Atomic<UInt>(0)

/// How a run ended.
public enum RunOutcome: Equatable {
    /// Every input was read to its end (or live capture was stopped by a signal).
    case completed
    /// An input could not be read to its end; what came before the damage was processed.
    case damaged([String])
}

/// Drives the engine from capture sources: files in order as one timeline, or a live interface.
public struct Runner {
    public let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    /// Reads every file in order. A file that cannot be opened at all is an error thrown before
    /// anything is read; a file damaged part-way is read as far as it goes and reported.
    public func replay(files: [String], diagnostics: (String) -> Void) throws(CaptureError) -> RunOutcome {
        // Open each file before reading any, so an unusable input stops the run at once.
        var sources: [PcapSource] = []
        for path in files { sources.append(try PcapSource.openFile(path)) }
        var damaged: [String] = []
        for source in sources {
            let linkType = source.linkType
            reading: while true {
                switch source.next() {
                case .packet(let p): engine.process(p, linkType: linkType)
                case .timeout: continue
                case .end: break reading
                case .error(let message):
                    diagnostics("capture cut short: \(message); events up to that point were written")
                    damaged.append(source.name)
                    break reading
                }
            }
        }
        engine.finish()
        return damaged.isEmpty ? .completed : .damaged(damaged)
    }

    /// Captures live until SIGINT/SIGTERM, then finishes every flow and writes final stats.
    public func live(interface: String, filter: String?, options: LiveCaptureOptions,
                     diagnostics: (String) -> Void) throws(CaptureError) -> RunOutcome {
        let source = try PcapSource.openLive(interface, options: options, filter: filter)
        liveHandleBits.store(source.handleBits, ordering: .sequentiallyConsistent)
        defer { liveHandleBits.store(0, ordering: .sequentiallyConsistent) }
        installStopHandlers()
        let linkType = source.linkType
        var sinceFlush = 0
        capture: while !stopRequested.load(ordering: .relaxed) {
            switch source.next() {
            case .packet(let p):
                engine.process(p, linkType: linkType)
                sinceFlush += 1
                if sinceFlush >= 256 { engine.flush(); sinceFlush = 0 }
            case .timeout:
                // A quiet link: push out what is written so events are never held back.
                engine.flush()
                sinceFlush = 0
            case .end:
                break capture
            case .error(let message):
                diagnostics("live capture failed: \(message)")
                break capture
            }
        }
        // Packets already captured when the stop came are still in libpcap's ring: read them all
        // before finishing, so nothing the kernel handed over is lost. Bounded by what is queued.
        source.setNonBlocking()
        draining: while true {
            switch source.next() {
            case .packet(let p): engine.process(p, linkType: linkType)
            case .end:
                continue // the break request is consumed by this read; the next one reads on
            case .timeout, .error:
                break draining
            }
        }
        let stats = source.stats()
        engine.finishFlows()
        engine.writeStats(captureStats: stats)
        engine.flush()
        return .completed
    }
}

private func installStopHandlers() {
    // pcap_breakloop only sets a flag and writes to an eventfd: safe in a signal handler (tcpdump does it).
    let handler: @convention(c) (Int32) -> Void = { _ in
        stopRequested.store(true, ordering: .relaxed)
        PcapSource.breakLoop(handleBits: liveHandleBits.load(ordering: .relaxed))
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    // A blocked signal mask survives exec: a sensor started by a supervisor (or a test runner)
    // that blocks SIGINT/SIGTERM would otherwise never stop. Unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    sigaddset(&set, SIGINT)
    sigaddset(&set, SIGTERM)
    sigprocmask(SIG_UNBLOCK, &set, nil)
}
