import SonarDetect
import SonarFlow
import Yams

/// One configurable limit: its name (`section.key`, as in docs/limits.md, `--limit` and the
/// `--limits` file), its bounds, and where it lives in `EngineConfig`.
public struct LimitSpec: Sendable {
    public let name: String
    public let minimum: Int
    public let maximum: Int
    /// What it bounds, one line.
    public let summary: String
    let get: @Sendable (EngineConfig) -> Int
    let set: @Sendable (inout EngineConfig, Int) -> Void

    public func value(in config: EngineConfig) -> Int { get(config) }
}

/// A `--limit NAME=VALUE` that cannot be used: one line saying why.
public struct LimitError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
}

/// Every limit of the pipeline by name: the one place that turns `--limit` and `--limits FILE`
/// into an `EngineConfig`. Defaults live in the configuration structs themselves.
public enum Limits {
    private static let kib = 1 << 10, mib = 1 << 20, gib = 1 << 30
    private static let maxBytes = 1 << 40
    private static let maxCount = 100_000_000
    private static let maxSeconds = 366 * 86_400

    private static func int(_ name: String, _ summary: String, min: Int = 1, max: Int,
                            _ kp: WritableKeyPath<EngineConfig, Int> & Sendable) -> LimitSpec {
        LimitSpec(name: name, minimum: min, maximum: max, summary: summary,
                  get: { $0[keyPath: kp] }, set: { $0[keyPath: kp] = $1 })
    }

    private static func seconds(_ name: String, _ summary: String, _ kp: WritableKeyPath<EngineConfig, Int64> & Sendable) -> LimitSpec {
        LimitSpec(name: name, minimum: 1, maximum: maxSeconds, summary: summary,
                  get: { Int($0[keyPath: kp]) }, set: { $0[keyPath: kp] = Int64($1) })
    }

    /// Every limit, in the order of docs/limits.md.
    public static var all: [LimitSpec] {
        [
            int("decode.max_fragment_buffers", "IP datagrams being reassembled from fragments at once", max: maxCount, \.decode.maxFragmentBuffers),
            int("decode.max_fragment_bytes_total", "bytes held by all datagrams being reassembled", min: 65_535, max: maxBytes, \.decode.maxFragmentBytesTotal),
            int("decode.fragment_timeout_seconds", "seconds (packet time) a datagram may take to complete", max: maxSeconds, \.decode.fragmentTimeoutSeconds),
            int("decode.max_fragments_per_datagram", "fragments accepted for one datagram", max: 8192, \.decode.maxFragmentsPerDatagram),
            int("decode.max_ipv6_extension_headers", "IPv6 extension headers walked in one packet", max: 256, \.decode.maxIPv6ExtensionHeaders),

            int("flow.max_flows", "flows (TCP connections, UDP pairs) tracked at once", max: maxCount, \.flow.maxFlows),
            seconds("flow.new_timeout_seconds", "idle timeout of a connection without a complete handshake, or a UDP pair", \.flow.newTimeoutSeconds),
            seconds("flow.established_timeout_seconds", "idle timeout of an established connection", \.flow.establishedTimeoutSeconds),
            seconds("flow.closed_timeout_seconds", "how long a closed connection is kept for its late packets", \.flow.closedTimeoutSeconds),
            seconds("flow.eviction_alert_interval_seconds", "at most one protocol.flow-table-full alert per this many seconds", \.flow.evictionAlertIntervalSeconds),

            int("reassembly.max_pending_bytes_per_direction", "out-of-order bytes held for one direction of a connection", max: maxBytes, \.flow.reassembly.maxPendingBytesPerDirection),
            int("reassembly.max_pending_segments_per_direction", "out-of-order segments held for one direction", min: 2, max: 1_000_000, \.flow.reassembly.maxPendingSegmentsPerDirection),
            int("reassembly.max_pending_bytes_total", "out-of-order bytes held across all connections", max: maxBytes, \.flow.reassembly.maxPendingBytesTotal),
            int("reassembly.max_reorder_distance", "how far ahead of the next expected byte a segment may start and be held", max: gib, \.flow.reassembly.maxReorderDistance),
            int("reassembly.recent_bytes_per_direction", "last delivered bytes kept per direction to compare retransmissions with (0: none)", min: 0, max: 16 * mib, \.flow.reassembly.recentBytesPerDirection),
            int("reassembly.max_recent_bytes_total", "those kept bytes across all connections", min: 0, max: maxBytes, \.flow.reassembly.maxRecentBytesTotal),

            int("http.max_header_bytes", "bytes of one HTTP head (start line, fields, blank line)", min: 64, max: 64 * mib, \.http.maxHeaderBytes),
            int("http.max_headers", "field lines in one HTTP head", max: 100_000, \.http.maxHeaders),
            int("http.max_body_bytes", "bytes of one JSON body buffered (after de-chunking and decompression)", max: maxBytes, \.http.maxBodyBytes),
            int("http.max_chunk_line_bytes", "bytes of one chunk-size line (size and extensions)", min: 3, max: 64 * kib, \.http.maxChunkLineBytes),
            int("http.max_trailer_bytes", "bytes of the trailer fields of one chunked body", max: 64 * mib, \.http.maxTrailerBytes),
            int("http.max_decompressed_bytes", "bytes one gzip/deflate body may inflate to", max: maxBytes, \.http.maxDecompressedBytes),
            int("http.max_decompression_ratio", "inflated bytes per compressed byte (checked past 64 KiB out)", max: 1_000_000, \.http.maxDecompressionRatio),
            int("http.max_sse_event_bytes", "bytes of one server-sent event", max: maxBytes, \.http.maxSSEEventBytes),
            int("http.max_pending_requests", "requests of one connection waiting for their response", max: 1_000_000, \.http.maxPendingRequests),
            int("http.max_upgrade_hold_bytes", "request bytes held between an Upgrade request and its response", max: 64 * mib, \.http.maxUpgradeHoldBytes),
            int("http.max_undecided_bytes", "bytes read before a first start line decides whether a connection is HTTP", max: 64 * mib, \.http.maxUndecidedBytes),

            int("websocket.max_frame_bytes", "payload of one WebSocket frame read (larger ones are skipped by count)", max: maxBytes, \.webSocket.maxFrameBytes),
            int("websocket.max_message_bytes", "bytes of one assembled WebSocket message (after decompression)", max: maxBytes, \.webSocket.maxMessageBytes),
            int("websocket.max_decompressed_bytes", "bytes one permessage-deflate message may inflate to", max: maxBytes, \.webSocket.maxDecompressedBytes),
            int("websocket.max_decompression_ratio", "inflated bytes per compressed byte of one message (past 64 KiB out)", max: 1_000_000, \.webSocket.maxDecompressionRatio),

            int("lines.max_line_bytes", "bytes of one newline-delimited JSON-RPC message", max: maxBytes, \.lines.maxLineBytes),

            int("json.max_bytes", "bytes of one JSON payload parsed", max: maxBytes, \.mcp.json.maxBytes),
            int("json.max_depth", "nesting depth of arrays and objects", max: 100_000, \.mcp.json.maxDepth),
            int("json.max_elements", "values and keys of one JSON payload", max: maxCount, \.mcp.json.maxElements),
            int("json.max_string_bytes", "raw bytes of one JSON string", max: maxBytes, \.mcp.json.maxStringBytes),

            int("app.max_buffered_bytes_total", "bytes held by the application-layer parsers of all connections together", min: 64 * kib, max: maxBytes, \.maxAppBufferedBytesTotal),

            int("mcp.max_pending_requests", "requests waiting for their response, across all sessions", max: maxCount, \.mcp.maxPendingRequests),
            int("mcp.max_sessions", "MCP sessions whose state is remembered", max: maxCount, \.mcp.maxSessions),
            int("mcp.max_servers", "servers whose tool inventory is kept", max: maxCount, \.mcp.maxServers),
            int("mcp.max_tools_per_page", "tools read from one tools/list result", max: maxCount, \.mcp.maxToolsPerPage),
            int("mcp.max_tools_per_server", "tools remembered per server", max: maxCount, \.mcp.maxToolsPerServer),
            int("mcp.max_tools_total", "tools remembered across all servers", max: maxCount, \.mcp.maxToolsTotal),
            int("output.max_queued_events", "events waiting for the sinks (live capture drops beyond it, counted; a replay waits)", max: maxCount, \.output.maxQueuedEvents),
            int("output.max_queued_bytes", "bytes of the events waiting for the sinks", min: 64 * kib, max: maxBytes, \.output.maxQueuedBytes),

            int("pcap_alerts.max_flow_buffer_bytes", "packet bytes held for one flow until it alerts or ends (--pcap-alerts)", min: 0, max: maxBytes, \.alertCapture.maxFlowBufferBytes),
            int("pcap_alerts.max_buffer_bytes", "packet bytes held for all flows together (--pcap-alerts)", min: 0, max: maxBytes, \.alertCapture.maxBufferBytes),
            int("pcap_alerts.max_open_files", "--pcap-alerts files kept open at once (others are reopened to append)", max: 65_536, \.alertCapture.maxOpenFiles),
            int("pcap_alerts.max_file_bytes", "bytes of --pcap-alerts files written in all", min: 64 * kib, max: maxBytes, \.alertCapture.maxFileBytes),

            int("mcp.max_stored_text", "bytes of one text kept in session state (longer text is kept as its hash)", min: 64, max: 16 * mib, \.mcp.maxStoredText),
        ]
    }

    public static func spec(_ name: String) -> LimitSpec? { all.first { $0.name == name } }

    /// A value: a non-negative integer (`_` allowed between digits), optionally followed by
    /// `KiB`, `MiB` or `GiB`. Nil when it is not one or overflows.
    public static func parseValue(_ text: String) -> Int? {
        var digits = Substring(text.trimmedSpaces())
        var scale = 1
        for (suffix, s) in [("KiB", kib), ("MiB", mib), ("GiB", gib)] where digits.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            while digits.last == " " { digits = digits.dropLast() }
            scale = s
            break
        }
        guard let first = digits.first, first.isASCII, first.isNumber,
              digits.last?.isNumber == true, !digits.contains("__") else { return nil }
        guard let n = Int(digits.filter { $0 != "_" }), n >= 0 else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    /// Sets `name` to `text`, refusing unknown names and values out of bounds.
    public static func set(_ name: String, _ text: String, in config: inout EngineConfig) throws(LimitError) {
        guard let spec = spec(name) else {
            let section = name.split(separator: ".").first.map(String.init) ?? name
            let known = all.filter { $0.name.hasPrefix(section + ".") }.map(\.name)
            let hint = known.isEmpty ? "sections: " + sections.joined(separator: ", ") : "known: " + known.joined(separator: ", ")
            throw LimitError(description: "unknown limit '\(name)' (\(hint))")
        }
        guard let value = parseValue(text) else {
            throw LimitError(description: "\(name): '\(text)' is not a number (an integer, optionally with KiB, MiB or GiB)")
        }
        guard value >= spec.minimum && value <= spec.maximum else {
            throw LimitError(description: "\(name): \(value) is out of range (\(spec.minimum) to \(spec.maximum))")
        }
        spec.set(&config, value)
    }

    /// `NAME=VALUE`, as `--limit` takes it.
    public static func apply(_ assignment: String, to config: inout EngineConfig) throws(LimitError) {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw LimitError(description: "'\(assignment)': expected NAME=VALUE, e.g. http.max_header_bytes=64KiB")
        }
        let name = String(assignment[..<eq]).trimmedSpaces()
        try set(name, String(assignment[assignment.index(after: eq)...]), in: &config)
    }

    static var sections: [String] {
        var seen: [String] = []
        for s in all { if let p = s.name.split(separator: ".").first.map(String.init), !seen.contains(p) { seen.append(p) } }
        return seen
    }

    /// Reads a limits file into `config`: a YAML mapping of sections to `key: value`
    /// (`http: {max_header_bytes: 64KiB}`), or dotted names at the top (`http.max_header_bytes: 64KiB`).
    public static func load(path: String, into config: inout EngineConfig) throws(ConfigError) {
        try load(yaml: ConfigFile.read(path), file: path, into: &config)
    }

    public static func load(yaml: String, file: String, into config: inout EngineConfig) throws(ConfigError) {
        guard let root = try ConfigFile.compose(yaml, file: file) else { return } // an empty file changes nothing
        func fail(_ node: Node?, _ reason: String) -> ConfigError {
            ConfigError(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, reason: reason)
        }
        func assign(_ name: String, _ key: Node, _ value: Node) throws(ConfigError) {
            guard let text = value.scalar?.string else { throw fail(value, "\(name) must be a number") }
            do throws(LimitError) {
                try set(name, text, in: &config)
            } catch {
                throw fail(spec(name) == nil ? key : value, error.description)
            }
        }
        guard let top = root.mapping else { throw fail(root, "a limits file is a mapping of sections (\(sections.joined(separator: ", ")))") }
        for (key, value) in top {
            guard let name = key.scalar?.string else { throw fail(key, "a section name must be a string") }
            if name.contains(".") {
                try assign(name, key, value)
                continue
            }
            guard sections.contains(name) else {
                throw fail(key, "unknown section '\(name)' (sections: \(sections.joined(separator: ", ")))")
            }
            guard let m = value.mapping else { throw fail(value, "section \(name) must be a mapping of limits") }
            for (k, v) in m {
                guard let leaf = k.scalar?.string else { throw fail(k, "a limit name must be a string") }
                try assign(name + "." + leaf, k, v)
            }
        }
    }

    /// The limit a breach counter is about, with its value, for an alert's signature.
    public static func detail(forBreach name: String, config: EngineConfig) -> String? {
        let limits: [String]
        switch name {
        case "http.header_too_large": limits = ["http.max_header_bytes"]
        case "http.too_many_headers": limits = ["http.max_headers"]
        case "http.body_too_large": limits = ["http.max_body_bytes"]
        case "http.upgrade_hold_overflow": limits = ["http.max_upgrade_hold_bytes"]
        case "http.too_many_pending_requests": limits = ["http.max_pending_requests"]
        case "sse.event_too_large": limits = ["http.max_sse_event_bytes"]
        case "http.decompressed_too_large": limits = ["http.max_decompressed_bytes"]
        case "http.decompression_ratio": limits = ["http.max_decompression_ratio"]
        case "websocket.frame_too_large": limits = ["websocket.max_frame_bytes"]
        case "websocket.message_too_large": limits = ["websocket.max_message_bytes"]
        case "websocket.decompression_bomb": limits = ["websocket.max_decompressed_bytes", "websocket.max_decompression_ratio"]
        case "ndjson.line_too_long": limits = ["lines.max_line_bytes"]
        case "json.too_large": limits = ["json.max_bytes"]
        case "json.too_deep": limits = ["json.max_depth"]
        case "json.too_many_elements": limits = ["json.max_elements"]
        case "json.string_too_long": limits = ["json.max_string_bytes"]
        case "tcp.pending_limit": limits = ["reassembly.max_pending_bytes_per_direction", "reassembly.max_pending_segments_per_direction", "reassembly.max_pending_bytes_total"]
        case "flow.evicted": limits = ["flow.max_flows"]
        case "app.buffer_budget_shed": limits = ["app.max_buffered_bytes_total"]
        default: return nil
        }
        return limits.compactMap { n in spec(n).map { "\(n) \($0.value(in: config))" } }.joined(separator: ", ")
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    func trimmedSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
