import SonarCapture
import SonarCore
import SonarOutput
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What signals asked for, as bits: the handlers only set them (async-signal-safe); the capture
/// loop acts on them between two packets.
let pendingSignals = Atomic<UInt32>(0)
private let stopBit: UInt32 = 1
private let hangupBit: UInt32 = 2
private let statsBit: UInt32 = 4
/// The live capture's libpcap handle (as a bit pattern), so the stop handler can break a read
/// that is blocked in the kernel.
let liveHandleBits = Atomic<UInt>(0)

/// How a run ended.
public enum RunOutcome: Equatable {
    /// Every input was read to its end (or live capture was stopped by a signal).
    case completed
    /// An input could not be read to its end; what came before the damage was processed.
    case damaged([String])
    /// A replay stopped by SIGINT/SIGTERM before the end of its input; what was read was processed.
    case interrupted
}

/// What the operator set for a run, and what the signals do.
public struct RunControl {
    /// Emit a `stats` event this often: wall-clock seconds live, packet-time seconds in replay
    /// (so a replay's output stays the same from run to run).
    public var statsInterval: Double?
    /// SIGHUP: reopen output files and reload the rules. Runs on the capture thread between packets.
    public var hangup: (() -> Void)?
    /// Replay on a terminal: the progress line.
    public var progress: ReplayProgress?
    /// Act on SIGINT/SIGTERM (stop), SIGHUP and SIGUSR1 (always on for live capture). Off for
    /// replays run inside another program, such as the tests.
    public var handlesSignals = false
    public init() {}
}

/// Drives the engine from capture sources: files in order as one timeline, or a live interface.
public struct Runner {
    public let engine: any PacketPipeline

    public init(engine: any PacketPipeline) { self.engine = engine }

    /// Reads every file in order. A file that cannot be opened at all is an error thrown before
    /// anything is read; a file damaged part-way is read as far as it goes and reported.
    public func replay(files: [String], control: RunControl = RunControl(),
                       diagnostics: (String) -> Void) throws(CaptureError) -> RunOutcome {
        // Open each file before reading any, so an unusable input stops the run at once; each is
        // opened again when its turn comes, so any number of files never holds many descriptors.
        for path in files { _ = try PcapSource.openFile(path) }
        if control.handlesSignals { installSignalHandlers() }
        var damaged: [String] = []
        var interrupted = false
        let interval = control.statsInterval.map { Int64(max($0, 0.001) * 1_000_000) }
        var nextStats: Timestamp?
        var doneBytes: Int64 = 0
        var sinceProgress = 0
        files: for path in files {
            let source: PcapSource
            do {
                source = try PcapSource.openFile(path)
            } catch {
                control.progress?.clear()
                diagnostics("\(error); skipped")
                damaged.append(path)
                continue
            }
            let linkType = source.linkType
            let anticipates = engine.anticipates
            reading: while true {
                switch source.next() {
                case .packet(let p):
                    if anticipates { engine.anticipate(source.upcoming(), linkType: linkType) }
                    engine.process(p, linkType: linkType)
                    if let interval {
                        if nextStats == nil { nextStats = Timestamp(microseconds: engine.now.microseconds &+ interval) }
                        if let due = nextStats, engine.now >= due {
                            engine.writeStats(captureStats: nil)
                            nextStats = Timestamp(microseconds: engine.now.microseconds &+ interval)
                        }
                    }
                    if let progress = control.progress {
                        sinceProgress += 1
                        if sinceProgress >= 2048 {
                            sinceProgress = 0
                            progress.update(bytesRead: doneBytes + (source.fileOffset ?? 0), events: engine.eventsWritten)
                        }
                    }
                    if pendingSignals.load(ordering: .relaxed) != 0 {
                        if handleSignals(control: control, captureStats: nil, statsTime: nil) {
                            interrupted = true
                            break files
                        }
                    }
                case .timeout: continue
                case .end: break reading
                case .error(let message):
                    control.progress?.clear()
                    diagnostics("capture cut short: \(message); events up to that point were written")
                    damaged.append(source.name)
                    break reading
                }
            }
            doneBytes += source.fileSize ?? 0
        }
        control.progress?.finish(bytesRead: doneBytes, events: engine.eventsWritten)
        engine.finish()
        if interrupted { return .interrupted }
        return damaged.isEmpty ? .completed : .damaged(damaged)
    }

    /// Captures from an opened live source until SIGINT/SIGTERM, then finishes every flow and
    /// writes final stats.
    public func live(source: PcapSource, control: RunControl = RunControl(),
                     diagnostics: (String) -> Void) -> RunOutcome {
        liveHandleBits.store(source.handleBits, ordering: .sequentiallyConsistent)
        defer { liveHandleBits.store(0, ordering: .sequentiallyConsistent) }
        installSignalHandlers()
        let linkType = source.linkType
        // Non-blocking reads and our own poll: a quiet link still wakes the loop every 100 ms
        // (libpcap's read timeout does not, in immediate mode), and a signal wakes it at once.
        source.setNonBlocking()
        var sinceFlush = 0
        var nextStats = control.statsInterval.map { monotonicSeconds() + max($0, 0.001) }
        capture: while true {
            switch source.next() {
            case .packet(let p):
                engine.process(p, linkType: linkType)
                sinceFlush += 1
                if sinceFlush >= 256 { engine.flush(); sinceFlush = 0 }
                if sinceFlush % 64 != 0 && pendingSignals.load(ordering: .relaxed) == 0 { continue capture }
            case .timeout:
                // Nothing queued: what is written goes out now, then wait for packets. Idle flows
                // time out on the wall clock meanwhile.
                engine.flush()
                sinceFlush = 0
                source.waitForPackets(timeoutMilliseconds: 100)
                engine.advanceClock(to: wallClock())
            case .end:
                // pcap_breakloop: a stop was asked for (checked below).
                break
            case .error(let message):
                diagnostics("live capture failed: \(message)")
                break capture
            }
            if let due = nextStats, monotonicSeconds() >= due, let interval = control.statsInterval {
                engine.writeStats(captureStats: source.stats(), time: max(engine.now, wallClock()))
                engine.flush()
                nextStats = monotonicSeconds() + max(interval, 0.001)
            }
            if pendingSignals.load(ordering: .relaxed) != 0 {
                if handleSignals(control: control, captureStats: source.stats(), statsTime: max(engine.now, wallClock())) {
                    break capture
                }
            }
        }
        // Packets already captured when the stop came are still in libpcap's ring: read them all
        // before finishing, so nothing the kernel handed over is lost. Bounded by what is queued.
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
        engine.writeStats(captureStats: stats, time: max(engine.now, wallClock()))
        engine.flush()
        engine.close()
        return .completed
    }

    /// Acts on the signals that arrived; true when a stop was asked for.
    private func handleSignals(control: RunControl, captureStats: CaptureStats?, statsTime: Timestamp?) -> Bool {
        let bits = pendingSignals.exchange(0, ordering: .relaxed)
        if bits & hangupBit != 0 { control.hangup?() }
        if bits & statsBit != 0 {
            engine.writeStats(captureStats: captureStats, time: statsTime)
            engine.flush()
        }
        return bits & stopBit != 0
    }
}

/// Now, on the clock libpcap stamps live packets with.
func wallClock() -> Timestamp {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Timestamp(seconds: Int64(ts.tv_sec), microseconds: Int64(ts.tv_nsec / 1000))
}

public func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

private func installSignalHandlers() {
    // pcap_breakloop only sets a flag and writes to an eventfd: safe in a signal handler (tcpdump does it).
    let stop: @convention(c) (Int32) -> Void = { _ in
        pendingSignals.bitwiseOr(stopBit, ordering: .relaxed)
        PcapSource.breakLoop(handleBits: liveHandleBits.load(ordering: .relaxed))
    }
    let hangup: @convention(c) (Int32) -> Void = { _ in pendingSignals.bitwiseOr(hangupBit, ordering: .relaxed) }
    let stats: @convention(c) (Int32) -> Void = { _ in pendingSignals.bitwiseOr(statsBit, ordering: .relaxed) }
    install(SIGINT, stop)
    install(SIGTERM, stop)
    install(SIGHUP, hangup)
    install(SIGUSR1, stats)
    // A blocked signal mask survives exec: a sensor started by a supervisor (or a test runner)
    // that blocks these signals would otherwise never see them. Unblock them.
    var set = sigset_t()
    sigemptyset(&set)
    for s in [SIGINT, SIGTERM, SIGHUP, SIGUSR1] { sigaddset(&set, s) }
    sigprocmask(SIG_UNBLOCK, &set, nil)
}

/// sigaction with SA_RESTART, so a signal never fails a write half-way in another thread's loop.
private func install(_ signo: Int32, _ handler: @convention(c) (Int32) -> Void) {
    var action = sigaction()
    action.__sigaction_handler.sa_handler = handler
    sigemptyset(&action.sa_mask)
    action.sa_flags = SA_RESTART
    sigaction(signo, &action, nil)
}
