import SonarCapture
import SonarCore
#if canImport(Glibc)
import Glibc
#endif

/// Bounds of the queue between the capture thread and the sinks: beyond either, live capture
/// drops the event (counted as `stats.output.dropped`); a replay waits.
public struct OutputLimits: Sendable {
    public var maxQueuedEvents = 65_536
    public var maxQueuedBytes = 256 << 20
    public init() {}
}

/// Bounds of `--pcap-alerts`.
public struct AlertCaptureLimits: Sendable {
    /// Bytes of pcap files written in all (beyond it, nothing more is written, and it is counted).
    public var maxFileBytes = 1 << 30
    /// Packet bytes held for one flow until it is judged (its head, from the first packet).
    public var maxFlowBufferBytes = 1 << 20
    /// Packet bytes held for all flows together.
    public var maxBufferBytes = 64 << 20
    /// Files kept open at once; the least recently written is closed and reopened for appending
    /// when its flow sends more, so ten thousand alerting flows never exhaust file descriptors.
    public var maxOpenFiles = 64
    public init() {}
}

/// Forensic capture: every flow's packets are held, from its first, until the flow either raises
/// an alert — then they go to `DIR/flow-<flow_id>.pcap`, followed by the flow's later packets as
/// they come — or ends without one, when they are forgotten. Incident response opens exactly what
/// the alert saw in Wireshark. Everything held and written is bounded; each breach is counted.
public final class AlertCapture {
    public let directory: String
    public let limits: AlertCaptureLimits
    public private(set) var counters = Counters()
    /// The files of flows still open, by flow id.
    public private(set) var files: [UInt64: String] = [:]

    /// Packets of one flow awaiting judgement: records of (time, caplen, wire length, bytes), packed.
    private struct Held {
        var linkType: Int32
        var records: [UInt8] = []
        /// The head no longer fits: later packets are not held (the file, if any, will miss them).
        var full = false
    }
    private var held: [UInt64: Held] = [:]
    private var heldBytes = 0
    private var writers: [UInt64: PcapWriter] = [:]
    /// Open writers, least recently used first (at most `maxOpenFiles`).
    private var openOrder: [UInt64] = []
    /// The link type of each file written, to reopen it for appending.
    private var fileLinkTypes: [UInt64: Int32] = [:]
    private var writtenBytes = 0
    private static let recordHeader = 16

    /// The directory must exist and be writable; checked here so a bad one stops the start.
    public init(directory: String, limits: AlertCaptureLimits = AlertCaptureLimits()) throws(CaptureError) {
        var s = stat()
        guard stat(directory, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR else {
            throw .cannotOpen("--pcap-alerts \(directory): not a directory")
        }
        guard access(directory, W_OK | X_OK) == 0 else {
            throw .cannotOpen("--pcap-alerts \(directory): not writable (\(String(cString: strerror(errno))))")
        }
        self.directory = directory
        self.limits = limits
    }

    /// One packet of a flow (every packet the engine sees, before it is parsed).
    public func packet(_ p: CapturedPacket, linkType: Int32, flowId: UInt64) {
        if let writer = writers[flowId] {
            touch(flowId)
            write(p.timestamp, p.bytes, p.wireLength, to: writer)
            return
        }
        if let path = files[flowId] {
            // Its file was closed to make room: reopen it for appending.
            let writer: PcapWriter
            do {
                writer = try PcapWriter(path: path, linkType: fileLinkTypes[flowId] ?? linkType, append: true)
            } catch {
                counters.add("pcap_alerts.open_failed")
                return
            }
            counters.add("pcap_alerts.reopened")
            keepOpen(flowId, writer)
            write(p.timestamp, p.bytes, p.wireLength, to: writer)
            return
        }
        if held[flowId] == nil {
            held[flowId] = Held(linkType: linkType)
        }
        guard var h = held[flowId], !h.full else { return }
        let size = Self.recordHeader + p.bytes.count
        if h.records.count + size > limits.maxFlowBufferBytes {
            h.full = true
            counters.add("pcap_alerts.flow_buffer_full")
        } else if heldBytes + size > limits.maxBufferBytes {
            h.full = true
            counters.add("pcap_alerts.buffer_full")
        } else {
            held[flowId] = nil // keep the array uniquely referenced while it grows
            append(&h.records, UInt64(bitPattern: p.timestamp.microseconds))
            append32(&h.records, UInt32(clamping: p.bytes.count))
            append32(&h.records, UInt32(clamping: p.wireLength))
            h.records.append(contentsOf: p.bytes)
            heldBytes += size
        }
        held[flowId] = h
    }

    /// A flow raised an alert: its file is opened (once) with everything held so far.
    public func alert(flowId: UInt64) {
        guard writers[flowId] == nil, let h = held[flowId] else { return }
        held[flowId] = nil
        heldBytes -= h.records.count
        guard writtenBytes + 24 <= limits.maxFileBytes else {
            counters.add("pcap_alerts.size_cap")
            return
        }
        let path = freePath(for: flowId)
        let writer: PcapWriter
        do {
            writer = try PcapWriter(path: path, linkType: h.linkType)
        } catch {
            counters.add("pcap_alerts.open_failed")
            return
        }
        writtenBytes += 24
        keepOpen(flowId, writer)
        files[flowId] = path
        fileLinkTypes[flowId] = h.linkType
        counters.add("pcap_alerts.files")
        if h.full { counters.add("pcap_alerts.files_incomplete") }
        h.records.withUnsafeBytes { raw in
            var i = 0
            while i + Self.recordHeader <= raw.count {
                let micros = Int64(bitPattern: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let caplen = Int(raw.loadUnaligned(fromByteOffset: i + 8, as: UInt32.self))
                let wire = Int(raw.loadUnaligned(fromByteOffset: i + 12, as: UInt32.self))
                let start = i + Self.recordHeader
                guard start + caplen <= raw.count else { break }
                write(Timestamp(microseconds: micros), UnsafeRawBufferPointer(rebasing: raw[start..<start + caplen]), wire, to: writer)
                i = start + caplen
            }
        }
    }

    /// The flow ended: its file is closed; packets held for a flow that raised nothing are dropped.
    public func flowEnded(_ flowId: UInt64) {
        if let h = held.removeValue(forKey: flowId) { heldBytes -= h.records.count }
        if let writer = writers.removeValue(forKey: flowId) {
            writer.flush()
            openOrder.removeAll { $0 == flowId }
        }
        // The file stays on disk; the flow is over, so it is never reopened.
        files[flowId] = nil
        fileLinkTypes[flowId] = nil
    }

    private func keepOpen(_ flowId: UInt64, _ writer: PcapWriter) {
        while writers.count >= max(1, limits.maxOpenFiles), let oldest = openOrder.first {
            openOrder.removeFirst()
            writers[oldest]?.flush()
            writers[oldest] = nil // closed by deinit
        }
        writers[flowId] = writer
        openOrder.append(flowId)
    }

    private func touch(_ flowId: UInt64) {
        guard openOrder.last != flowId, let i = openOrder.firstIndex(of: flowId) else { return }
        openOrder.remove(at: i)
        openOrder.append(flowId)
    }

    /// End of the run: every file is complete on disk.
    public func close() {
        for (_, w) in writers { w.flush() }
        writers.removeAll()
        openOrder.removeAll()
        held.removeAll()
        heldBytes = 0
    }

    private func write(_ time: Timestamp, _ bytes: UnsafeRawBufferPointer, _ wire: Int, to writer: PcapWriter) {
        let size = Self.recordHeader + bytes.count
        guard writtenBytes + size <= limits.maxFileBytes else {
            counters.add("pcap_alerts.size_cap")
            return
        }
        writtenBytes += size
        writer.write(timestamp: time, bytes: bytes, wireLength: wire)
    }

    /// `flow-<id>.pcap`, or `flow-<id>-2.pcap` ... when an earlier run left one there.
    private func freePath(for flowId: UInt64) -> String {
        let base = directory.hasSuffix("/") ? directory : directory + "/"
        var path = "\(base)flow-\(flowId).pcap"
        var n = 2
        while access(path, F_OK) == 0 && n < 10_000 {
            path = "\(base)flow-\(flowId)-\(n).pcap"
            n += 1
        }
        return path
    }

    private func append(_ a: inout [UInt8], _ v: UInt64) {
        withUnsafeBytes(of: v) { a.append(contentsOf: $0) }
    }

    private func append32(_ a: inout [UInt8], _ v: UInt32) {
        withUnsafeBytes(of: v) { a.append(contentsOf: $0) }
    }
}
