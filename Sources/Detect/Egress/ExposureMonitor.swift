import SonarCore
import SonarMCP
import SonarProtocols

/// Who can reach MCP services, and MCP travelling where it should not: MCP served beyond
/// loopback, cleartext MCP sessions between hosts (worse with credentials in them), Streamable
/// HTTP requests without Authorization to a server beyond loopback, and a server that answers
/// `initialize` or `tools/list` to a remote client that sent no Authorization. Each once per
/// server (or session).
public final class ExposureMonitor {
    // Unchecked exclusivity on the fields below: each access is one read, or one call into the
    // standard library's Set with hashing of plain values, that runs no code of this class, so
    // no two can overlap (`report` is called between them). Asked for every MCP message.
    @exclusivity(unchecked) public private(set) var policy: EgressPolicy
    /// What was reported, as values: asked for every message, so no text is built to ask.
    private enum Reported: Hashable {
        case served(Endpoint)
        case cleartext(IPAddress, Endpoint)
        case credentials(IPAddress, Endpoint)
        case noAuthorization(Endpoint)
        case answer(Endpoint)
    }
    @exclusivity(unchecked) private var reported: Set<Reported> = []
    /// Which once-only findings of a client host and server are settled (reported, now or
    /// before), in a small direct-mapped table by a hash of the pair: every message of a
    /// connection, and every connection of the same pair, skips the set once they are. A slot
    /// holds its pair; all are forgotten when the set is emptied.
    private struct Settled: OptionSet {
        let rawValue: UInt8
        static let served = Settled(rawValue: 1), cleartext = Settled(rawValue: 2)
        static let credentials = Settled(rawValue: 4), noAuthorization = Settled(rawValue: 8)
    }
    private struct SettledSlot {
        var client: IPAddress
        var server: Endpoint
        var settled: Settled
    }
    /// Slots of the table: a few times the pairs a thousand busy connections make at once. At
    /// 1 024, the benchmark corpus's 29 775 pairs (about five messages each, interleaved) pushed
    /// each other out between their messages, and every such message hashed its findings into
    /// the set again. 48 bytes a slot.
    static let settledSlotCount = 4096
    @exclusivity(unchecked) private var settledSlots = [SettledSlot?](repeating: nil, count: settledSlotCount)
    @exclusivity(unchecked) private var settled: Settled = []
    /// Requests of remote clients without Authorization awaiting their answer, by the tracker's
    /// number for the exchange: a legacy HTTP+SSE server answers on its event stream, another
    /// connection than the POST's (by flow and id, those answers were never matched and their
    /// requests stayed until the set was emptied).
    @exclusivity(unchecked) private var unauthenticated: Set<Int> = []
    private let maxEntries = 100_000

    public init(policy: EgressPolicy) { self.policy = policy }

    /// New rules (SIGHUP): what was already reported stays reported.
    public func reconfigure(policy: EgressPolicy) { self.policy = policy }

    /// `headers`: the HTTP headers of the message carrying the event (request headers to the server).
    public func inspect(_ e: MCPEvent, headers: HTTPHeaders?, carriesSecret: Bool, report: (Finding) -> Void) {
        let server = e.direction == .toServer ? e.destination : e.source
        let client = e.direction == .toServer ? e.source : e.destination
        guard !server.address.isLoopback || !client.address.isLoopback else { return }
        // One cleartext session per client host and server: initialize has no session id yet.
        var session: String { "\(client.address)>\(server)" }
        // Looked up only when a finding not yet settled depends on it: most messages of a pair
        // need it for nothing, and the head, written by another thread with several workers, is
        // then not read here at all.
        lazy var hasAuth = headers?.contains("authorization") ?? false
        let slot = Self.slot(client.address, server, count: settledSlots.count)
        if let s = settledSlots[slot], s.client == client.address, s.server == server {
            settled = s.settled
        } else {
            settled = []
        }
        defer { settledSlots[slot] = SettledSlot(client: client.address, server: server, settled: settled) }

        if !server.address.isLoopback, !settled.contains(.served), let sev = policy.servedBeyondLoopback,
           once(.served(server), .served) {
            report(finding("exposure.served-beyond-loopback", 200951, "MCP served on \(server), an address beyond loopback", sev, server.description))
        }
        // Everything the sensor decodes is cleartext: TLS is never decrypted.
        if client.address != server.address, !settled.contains(.cleartext), let sev = policy.cleartextSession,
           once(.cleartext(client.address, server), .cleartext) {
            report(finding("exposure.cleartext-session", 200952, "MCP session in cleartext between \(client.address) and \(server)", sev, session))
        }
        if client.address != server.address, !settled.contains(.credentials), carriesSecret || (e.direction == .toServer && hasAuth),
           let sev = policy.cleartextCredentials, once(.credentials(client.address, server), .credentials) {
            let what = hasAuth && e.direction == .toServer ? "an Authorization header" : "a secret"
            report(finding("exposure.cleartext-credentials", 200953, "cleartext MCP session between \(client.address) and \(server) carries \(what)", sev, session))
        }
        if e.direction == .toServer, e.transport == .http || e.transport == .sse, !server.address.isLoopback {
            if !settled.contains(.noAuthorization), !hasAuth, let sev = policy.noAuthorization, once(.noAuthorization(server), .noAuthorization) {
                report(finding("exposure.no-authorization", 200954, "Streamable HTTP requests to \(server) carry no Authorization", sev, server.description))
            }
            if !client.address.isLoopback, e.kind == .request, e.method == "initialize" || e.method == "tools/list",
               let exchange = e.exchange, !hasAuth {
                if unauthenticated.count >= maxEntries { unauthenticated.removeAll() }
                unauthenticated.insert(exchange)
            }
        }
        if e.direction == .toClient, e.kind == .response, e.method == "initialize" || e.method == "tools/list", let exchange = e.exchange,
           unauthenticated.remove(exchange) != nil, let sev = policy.unauthenticatedAnswer, once(.answer(server)) {
            report(finding("exposure.unauthenticated-answer", 200955,
                           "\(server) answered \(e.method ?? "") to remote client \(client.address) that sent no Authorization", sev, server.description))
        }
    }

    /// The slot of a pair (`SlotHash`).
    static func slot(_ client: IPAddress, _ server: Endpoint, count: Int) -> Int {
        var h = SlotHash()
        h.add(client)
        h.add(server.address)
        h.add(UInt64(server.port))
        return h.slot(count: count)
    }

    /// Whether `key` is reported for the first time; either way it is settled for the last pair.
    private func once(_ key: Reported, _ settles: Settled = []) -> Bool {
        if reported.count >= maxEntries {
            reported.removeAll()
            settled = []
            for i in settledSlots.indices { settledSlots[i] = nil }
        }
        settled.insert(settles)
        return reported.insert(key).inserted
    }

    private func finding(_ rule: String, _ sid: Int, _ signature: String, _ severity: Int, _ what: String) -> Finding {
        Finding(rule: rule, signatureId: sid, signature: signature, category: .exposure, severity: severity,
                evidence: Evidence(redacted: what, sha256: Redaction.sha256Hex(what.utf8), path: "connection"))
    }
}
