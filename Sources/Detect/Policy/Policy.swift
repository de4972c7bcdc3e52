import Yams

/// Detector policy (`rules/policy.yml`): severities per check (nil = off) and budgets.
public struct Policy: Sendable, Equatable {
    public var unknownMethod: Int? = 2
    public var wrongVersion: Int? = 3
    public var wrongDirection: Int? = 1
    public var serverSampling: Int? = 3
    public var serverElicitation: Int? = 3
    public var unlistedTool: Int? = 2
    public var headerMismatch: Int? = 2
    public var unknownResponseId: Int? = 3
    public var duplicateRequestId: Int? = 3
    public var malformedJSONRPC: Int? = 3
    public var transportAnomaly: Int? = 3
    public var limitExceeded: Int? = 2
    public var decompressionBomb: Int? = 2
    public var overlapConflict: Int? = 2
    public var reassemblyLimit: Int? = 3
    public var flowTableFull: Int? = 2
    public var bufferBudgetFull: Int? = 2
    public var ttlInconsistent: Int? = 3
    public var urgentData: Int? = 3
    public var definitionChanged: Int? = 1
    public var toolAddedLater: Int? = 2
    public var toolRemoved: Int? = 3
    public var shadowing: Int? = 2
    public var notPinned: Int? = 2
    public var pinMismatch: Int? = 1
    public var callsPerMinutePerClient = 300
    public var callsPerMinutePerTool = 120
    public var maxResponseBytes = 4 << 20
    public var budgetSeverity: Int? = 3

    public init() {}

    public static func load(path: String) throws(ConfigError) -> Policy {
        try load(yaml: readText(path, file: path), file: path)
    }

    public static func load(yaml: String, file: String) throws(ConfigError) -> Policy {
        let y = ConfigYAML(file: file)
        let root = try y.mapping(try y.parse(yaml), "the policy")
        try y.onlyKeys(root, ["methods", "protocol", "tool_change", "budgets"], "the policy")
        var p = Policy()
        if let n = root["methods"] {
            let m = try y.mapping(n, "methods")
            try y.onlyKeys(m, ["unknown_method", "wrong_version", "wrong_direction", "server_sampling", "server_elicitation", "unlisted_tool"], "methods")
            if m["unknown_method"] != nil { p.unknownMethod = try y.severity(m["unknown_method"], "unknown_method") }
            if m["wrong_version"] != nil { p.wrongVersion = try y.severity(m["wrong_version"], "wrong_version") }
            if m["wrong_direction"] != nil { p.wrongDirection = try y.severity(m["wrong_direction"], "wrong_direction") }
            if m["server_sampling"] != nil { p.serverSampling = try y.severity(m["server_sampling"], "server_sampling") }
            if m["server_elicitation"] != nil { p.serverElicitation = try y.severity(m["server_elicitation"], "server_elicitation") }
            if m["unlisted_tool"] != nil { p.unlistedTool = try y.severity(m["unlisted_tool"], "unlisted_tool") }
        }
        if let n = root["protocol"] {
            let m = try y.mapping(n, "protocol")
            try y.onlyKeys(m, ["header_mismatch", "unknown_response_id", "duplicate_request_id", "malformed_jsonrpc", "transport_anomaly",
                               "limit_exceeded", "decompression_bomb", "overlap_conflict", "reassembly_limit",
                               "flow_table_full", "buffer_budget_full", "ttl_inconsistent", "urgent_data"], "protocol")
            if m["buffer_budget_full"] != nil { p.bufferBudgetFull = try y.severity(m["buffer_budget_full"], "buffer_budget_full") }
            if m["limit_exceeded"] != nil { p.limitExceeded = try y.severity(m["limit_exceeded"], "limit_exceeded") }
            if m["decompression_bomb"] != nil { p.decompressionBomb = try y.severity(m["decompression_bomb"], "decompression_bomb") }
            if m["overlap_conflict"] != nil { p.overlapConflict = try y.severity(m["overlap_conflict"], "overlap_conflict") }
            if m["reassembly_limit"] != nil { p.reassemblyLimit = try y.severity(m["reassembly_limit"], "reassembly_limit") }
            if m["flow_table_full"] != nil { p.flowTableFull = try y.severity(m["flow_table_full"], "flow_table_full") }
            if m["ttl_inconsistent"] != nil { p.ttlInconsistent = try y.severity(m["ttl_inconsistent"], "ttl_inconsistent") }
            if m["urgent_data"] != nil { p.urgentData = try y.severity(m["urgent_data"], "urgent_data") }
            if m["transport_anomaly"] != nil { p.transportAnomaly = try y.severity(m["transport_anomaly"], "transport_anomaly") }
            if m["header_mismatch"] != nil { p.headerMismatch = try y.severity(m["header_mismatch"], "header_mismatch") }
            if m["unknown_response_id"] != nil { p.unknownResponseId = try y.severity(m["unknown_response_id"], "unknown_response_id") }
            if m["duplicate_request_id"] != nil { p.duplicateRequestId = try y.severity(m["duplicate_request_id"], "duplicate_request_id") }
            if m["malformed_jsonrpc"] != nil { p.malformedJSONRPC = try y.severity(m["malformed_jsonrpc"], "malformed_jsonrpc") }
        }
        if let n = root["tool_change"] {
            let m = try y.mapping(n, "tool_change")
            try y.onlyKeys(m, ["definition_changed", "tool_added_later", "tool_removed", "shadowing", "not_pinned", "pin_mismatch"], "tool_change")
            if m["definition_changed"] != nil { p.definitionChanged = try y.severity(m["definition_changed"], "definition_changed") }
            if m["tool_added_later"] != nil { p.toolAddedLater = try y.severity(m["tool_added_later"], "tool_added_later") }
            if m["tool_removed"] != nil { p.toolRemoved = try y.severity(m["tool_removed"], "tool_removed") }
            if m["shadowing"] != nil { p.shadowing = try y.severity(m["shadowing"], "shadowing") }
            if m["not_pinned"] != nil { p.notPinned = try y.severity(m["not_pinned"], "not_pinned") }
            if m["pin_mismatch"] != nil { p.pinMismatch = try y.severity(m["pin_mismatch"], "pin_mismatch") }
        }
        if let n = root["budgets"] {
            let m = try y.mapping(n, "budgets")
            try y.onlyKeys(m, ["calls_per_minute_per_client", "calls_per_minute_per_tool", "max_response_bytes", "severity"], "budgets")
            if m["calls_per_minute_per_client"] != nil { p.callsPerMinutePerClient = try y.positiveInt(m["calls_per_minute_per_client"], "calls_per_minute_per_client") }
            if m["calls_per_minute_per_tool"] != nil { p.callsPerMinutePerTool = try y.positiveInt(m["calls_per_minute_per_tool"], "calls_per_minute_per_tool") }
            if m["max_response_bytes"] != nil { p.maxResponseBytes = try y.positiveInt(m["max_response_bytes"], "max_response_bytes") }
            if m["severity"] != nil { p.budgetSeverity = try y.severity(m["severity"], "severity") }
        }
        return p
    }
}
