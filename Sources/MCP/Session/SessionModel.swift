import SonarCore

/// Who talks in an MCP session and what they said about themselves.
public struct MCPSessionInfo: Sendable, Equatable {
    public var key: String
    public var clientName: String?
    public var clientVersion: String?
    public var serverName: String?
    public var serverVersion: String?
    public var protocolVersion: String?
    /// Canonical JSON of the capabilities each side declared.
    public var clientCapabilities: String?
    public var serverCapabilities: String?
    /// The server's `instructions` (free text the model reads), as last seen.
    public var instructions: String?
    public var lastUsed: Int = 0

    public init(key: String) { self.key = key }
}

/// One tool as a server presented it in a `tools/list` result.
public struct ToolDefinition: Sendable, Equatable {
    public var name: String
    /// Hex SHA-256 of the canonical JSON of the whole tool object (name, description, schemas,
    /// annotations, ...): any change to what the model is told changes it.
    public var sha256: String
    public var description: String?
    public var firstSeen: Timestamp
    public var lastSeen: Timestamp
    /// Position in the `tools` array of the result that presented it.
    public var index: Int = 0
    /// Hash of each top-level member's canonical JSON (`description`, `inputSchema`, ...), to say
    /// which part of a definition changed.
    public var memberSHA256: [String: String] = [:]
}

/// What changed in a server's tools between what it showed before and a new `tools/list` page.
public enum ToolObservation: Sendable, Equatable {
    /// A tool seen for the first time; `initial` when it came in the server's first listing.
    case added(server: String, tool: ToolDefinition, initial: Bool)
    /// A tool whose definition differs from the one the server presented first; `members`: the
    /// top-level members that differ (added, removed or changed), sorted.
    case changed(server: String, tool: ToolDefinition, firstSHA256: String, members: [String])
    /// A complete listing (every page, up to one without `nextCursor`) no longer has the tool.
    case removed(server: String, name: String, time: Timestamp)
}

/// A server's tools, from every `tools/list` result (pages joined by `nextCursor`).
public struct ToolInventory: Sendable {
    public var server: String
    /// Tools by name, as most recently presented.
    public private(set) var tools: [String: ToolDefinition] = [:]
    /// The hash each tool had when first presented: the definition a user approved.
    public private(set) var firstSHA256: [String: String] = [:]
    /// The member hashes each tool had when first presented.
    private var firstMembers: [String: [String: String]] = [:]
    /// Complete listings seen.
    public private(set) var listings = 0
    /// Time of the last `notifications/tools/list_changed` from this server.
    public var listChangedAt: Timestamp?
    /// Tools remembered (first definitions): what the per-server and total limits count.
    public var knownTools: Int { firstSHA256.count }
    /// Tools not remembered because a limit was reached (the caller counts and resets it).
    public var droppedTools = 0
    /// Names in the listing being read page by page.
    private var currentListing: Set<String> = []
    private var listingOpen = false

    public init(server: String) { self.server = server }

    /// Takes one page of a `tools/list` result. `continuation`: the request carried a cursor;
    /// `more`: the result has a `nextCursor`.
    mutating func apply(page: [ToolDefinition], continuation: Bool, more: Bool, time: Timestamp,
                        maxTools: Int = .max) -> [ToolObservation] {
        var observations: [ToolObservation] = []
        if !continuation { currentListing = []; listingOpen = true }
        for var t in page {
            // Beyond the limit a new name is neither remembered nor reported (counted by the caller).
            if firstSHA256[t.name] == nil && firstSHA256.count >= maxTools {
                droppedTools += 1
                continue
            }
            currentListing.insert(t.name)
            if let first = firstSHA256[t.name] {
                if let old = tools[t.name] { t.firstSeen = old.firstSeen }
                if t.sha256 != first && tools[t.name]?.sha256 != t.sha256 {
                    let old = firstMembers[t.name] ?? [:]
                    let names = Set(old.keys).union(t.memberSHA256.keys)
                    let differing = names.filter { old[$0] != t.memberSHA256[$0] }.sorted()
                    observations.append(.changed(server: server, tool: t, firstSHA256: first, members: differing))
                }
            } else {
                firstSHA256[t.name] = t.sha256
                firstMembers[t.name] = t.memberSHA256
                observations.append(.added(server: server, tool: t, initial: listings == 0))
            }
            tools[t.name] = t
        }
        if !more && listingOpen {
            // Only a complete listing proves a tool is gone.
            listingOpen = false
            listings += 1
            for name in tools.keys.sorted() where !currentListing.contains(name) {
                tools[name] = nil
                firstSHA256[name] = nil
                firstMembers[name] = nil
                observations.append(.removed(server: server, name: name, time: time))
            }
        }
        return observations
    }
}
