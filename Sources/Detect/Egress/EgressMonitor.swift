import SonarCore
import SonarMCP
import SonarProtocols

/// A connection the sensor saw opening, with what names it: the TLS SNI and the HTTP Host.
public struct OutboundConnection: Sendable {
    public var flowId: UInt64
    public var client: Endpoint
    public var server: Endpoint
    public var time: Timestamp
    public var appProto: String?
    public var sni: String?
    public var httpHost: String?
    public init(flowId: UInt64, client: Endpoint, server: Endpoint, time: Timestamp, appProto: String?, sni: String?, httpHost: String?) {
        self.flowId = flowId; self.client = client; self.server = server; self.time = time
        self.appProto = appProto; self.sni = sni; self.httpHost = httpHost
    }
}

/// Who MCP servers call: every address seen serving MCP (and `--mcp-server`), the names of
/// addresses learnt from DNS answers, and each connection such a host opens to a destination the
/// allow-list does not cover — raised once per server and destination, with the server's closest
/// preceding tool call.
public final class EgressMonitor {
    // Unchecked exclusivity on the five fields below (touched for every message): each access is
    // a read, an assignment (`reconfigure` runs between messages) or one set, dictionary or array
    // operation, none of which runs code of this class.
    @exclusivity(unchecked) public private(set) var policy: EgressPolicy
    /// Hosts seen serving MCP, and configured ones.
    @exclusivity(unchecked) public private(set) var serverHosts: Set<IPAddress> = []
    /// Hosts `noteMCP` added lately, in a small direct-mapped table by a hash of the address:
    /// the set only grows, so a host found here is in it, and a message of a known server skips
    /// the set's SipHash (about 270 instructions a message when servers alternate). Sized for a
    /// thousand connections at once to as many servers (the benchmark corpus has 5 149 server
    /// hosts; at 256 slots more of them pushed each other out: `noteMCP` 4.42 M -> 4.26 M
    /// instructions on `corpus-30MB` at 2 048). 24 bytes a slot.
    @exclusivity(unchecked) private var recentHosts = [IPAddress?](repeating: nil, count: 2048)
    @exclusivity(unchecked) private var lastToolCall: [IPAddress: MCPEvent] = [:]
    /// (Client that received the answer, answered address) → (names, expiry), bounded. Keyed by
    /// client so that one host's DNS answers never name another host's destinations.
    private struct NameKey: Hashable { var client: IPAddress; var address: IPAddress }
    private var names: [NameKey: (names: [String], expires: Timestamp)] = [:]
    private var reported: Set<String> = []
    private let maxEntries = 100_000

    public init(policy: EgressPolicy, servers: [IPAddress] = []) {
        self.policy = policy
        serverHosts = Set(servers)
    }

    /// New rules (SIGHUP): learnt names and server hosts carry over; configured servers are added.
    public func reconfigure(policy: EgressPolicy, servers: [IPAddress]) {
        self.policy = policy
        for s in servers where serverHosts.count < maxEntries { serverHosts.insert(s) }
    }

    /// A message of an MCP session: its server is an MCP server host; a tool call is remembered.
    public func noteMCP(_ e: MCPEvent) {
        let server = e.direction == .toServer ? e.destination.address : e.source.address
        let slot = EgressMonitor.slot(server, count: recentHosts.count)
        if recentHosts[slot] != server, serverHosts.count < maxEntries {
            serverHosts.insert(server)
            recentHosts[slot] = server
        }
        if e.kind == .request, e.method == "tools/call", e.direction == .toServer {
            if lastToolCall[server] == nil && lastToolCall.count >= maxEntries { lastToolCall.removeAll() }
            lastToolCall[server] = e
        }
    }

    /// The slot of an address in `recentHosts` (`SlotHash`).
    static func slot(_ a: IPAddress, count: Int) -> Int {
        var h = SlotHash()
        h.add(a)
        return h.slot(count: count)
    }

    /// A DNS response received by `client`: remembers each answered address's names (the
    /// queried name first, at most 8 of a chain) for its TTL.
    public func learn(_ m: DNSMessage, client: IPAddress, time: Timestamp) {
        guard m.isResponse else { return }
        for (address, chain, ttl) in dnsAddressNames(m) {
            let key = NameKey(client: client, address: address)
            if names[key] == nil && names.count >= maxEntries { names.removeAll() }
            names[key] = (Array(chain.prefix(8).map { String($0.prefix(255)) }), time.adding(seconds: Int64(ttl)))
        }
    }

    /// The names DNS gave `client` for `address`, while their TTL lasts.
    public func dnsNames(_ address: IPAddress, client: IPAddress, at time: Timestamp) -> [String]? {
        guard let entry = names[NameKey(client: client, address: address)], time <= entry.expires else { return nil }
        return entry.names
    }

    /// Judges one connection; an alert when an MCP server host reached an unapproved destination.
    public func inspect(_ c: OutboundConnection) -> Alert? {
        // Only connections the MCP server host opens count (the MCP session itself runs the other
        // way: its client connects to the host); loopback is not egress.
        guard let severity = policy.severity, serverHosts.contains(c.client.address),
              !c.server.address.isLoopback else { return nil }
        if policy.dnsExempt && c.server.port == 53 { return nil }
        let dns = dnsNames(c.server.address, client: c.client.address, at: c.time)
        let (host, via): (String, String) = {
            if let s = c.sni { return (s, "tls-sni") }
            if let h = c.httpHost { return (Self.hostOnly(h), "http-host") }
            if let d = dns?.first { return (d, "dns") }
            return (c.server.address.description, "ip")
        }()
        let allowed = policy.allows(address: c.server.address) || (via != "ip" && policy.allows(name: host))
            || (via == "dns" && (dns ?? []).contains { policy.allows(name: $0) })
        if allowed { return nil }
        let key = "\(c.client.address)>\(host.prefix(255))>\(c.server.port)"
        guard reported.insert(key).inserted else { return nil }
        if reported.count > maxEntries { reported.removeAll() }
        var f = Finding(rule: "egress.unapproved-destination", signatureId: 200901,
                        signature: "MCP server \(c.client.address) connected to \(host) (\(c.server)) outside the egress allow-list",
                        category: .egress, severity: severity,
                        evidence: Evidence(redacted: host, sha256: Redaction.sha256Hex(host.utf8), path: via))
        var call: MCPEvent? = nil
        if let t = lastToolCall[c.client.address], t.timestamp <= c.time,
           c.time.microseconds(since: t.timestamp) / 1_000_000 <= policy.toolCallWindowSeconds {
            call = t
            f.signature += " during tools/call '\(t.tool ?? "")'"
        }
        var alert = Alert(timestamp: c.time, flowId: c.flowId, source: c.client, destination: c.server,
                          appProto: c.appProto, finding: f, mcp: call)
        alert.egressHost = host
        alert.egressVia = via
        return alert
    }

    /// `host:port` or `[v6]:port` → the host.
    static func hostOnly(_ h: String) -> String {
        var s = Substring(h.lowercased())
        if s.hasPrefix("[") , let close = s.firstIndex(of: "]") { return String(s[s.index(after: s.startIndex)..<close]) }
        if let colon = s.lastIndex(of: ":"), s.firstIndex(of: ":") == colon { s = s[..<colon] }
        return String(s).trimmingDots()
    }
}
