import SonarCore
import SonarMCP
import SonarProtocols

/// Every detector's configuration, loaded from a rules folder:
/// `sigma/` (Sigma rules), `secrets.yml`, `content.yml`, `methods.yml`, `policy.yml`.
public struct DetectionConfig: Sendable {
    public var rules: RuleSet
    public var secrets: SecretScanner
    public var content: ContentConfig
    public var catalogue: MethodCatalogue
    public var policy: Policy
    public var pins: PinSet?
    /// Egress allow-list and exposure severities (`egress.yml`, plus `--egress-allow`).
    public var egress: EgressPolicy
    /// Hosts to treat as MCP servers beyond those seen serving MCP (`--mcp-server`).
    public var mcpServers: [IPAddress] = []

    /// Loads the rules folder `root`; `sigma` replaces `root/sigma` when given (a file or folder).
    /// Every problem in every file is collected, so one run shows them all.
    public static func load(root: String, sigma: String? = nil, pins: String? = nil) throws(DetectionLoadError) -> DetectionConfig {
        var errors: [String] = []
        func path(_ name: String) -> String { root.hasSuffix("/") ? root + name : root + "/" + name }
        var rules: RuleSet?
        do { rules = try RuleSet.load(path: sigma ?? path("sigma")) } catch { errors += error.errors.map(\.description) }
        var secrets: SecretScanner?
        do { secrets = try SecretScanner.load(path: path("secrets.yml")) } catch { errors.append("\(error)") }
        var content: ContentConfig?
        do { content = try ContentConfig.load(path: path("content.yml")) } catch { errors.append("\(error)") }
        var catalogue: MethodCatalogue?
        do { catalogue = try MethodCatalogue.load(path: path("methods.yml")) } catch { errors.append("\(error)") }
        var policy: Policy?
        do { policy = try Policy.load(path: path("policy.yml")) } catch { errors.append("\(error)") }
        var egress: EgressPolicy?
        do { egress = try EgressPolicy.load(path: path("egress.yml")) } catch { errors.append("\(error)") }
        var pinSet: PinSet?
        if let pins {
            do { pinSet = try PinSet.load(path: pins) } catch { errors.append("\(error)") }
        }
        guard errors.isEmpty, let rules, let secrets, let content, let catalogue, let policy, let egress else {
            throw DetectionLoadError(errors: errors)
        }
        return DetectionConfig(rules: rules, secrets: secrets, content: content, catalogue: catalogue,
                               policy: policy, pins: pinSet, egress: egress)
    }
}

/// Why a rules folder was refused: one line per problem, each `FILE:LINE:COLUMN: reason`.
public struct DetectionLoadError: Error, CustomStringConvertible, Sendable {
    public var errors: [String]
    public init(errors: [String]) { self.errors = errors }
    public var description: String { errors.joined(separator: "\n") }
}

/// Runs every detector on each message and turns what they find into findings, once each.
public final class DetectionEngine {
    public private(set) var config: DetectionConfig
    public let policy: PolicyDetectors
    public let toolChange: ToolChangeDetector
    private var secretDetector: SecretDetector
    /// Secret scans of this engine's thread (the session stage's).
    private let scanCache = SecretScanCache()
    private var content: ContentDetectors
    /// Poisoning findings of tool definitions seen, for this engine's rules.
    private var toolScans = ToolScanCache()
    public let egress: EgressMonitor
    public let exposure: ExposureMonitor
    /// The rules whose gates admit a method and kind, kept for the messages after (a message's
    /// methods are few; finding them cost about 550 instructions a message): one `BytesCache`
    /// per kind, by the method's bytes (methods up to `maxGateMethodBytes`; longer ones, and
    /// messages without a method, are gated each time).
    private var gateCaches: [BytesCache<[Int]>]
    private let gateSlots: Int
    static let maxGateMethodBytes = 64

    /// Secret matches and content findings past each message's reported ones
    /// (`SecretDetector.maxReportedPerMessage`, `ContentDetectors.maxReportedPerMessage`) since
    /// the last `takeUnreported()`. Unchecked: each access is one load or store of an integer,
    /// no code runs inside it.
    @exclusivity(unchecked) private var secretMatchesUnreported = 0
    @exclusivity(unchecked) private var contentFindingsUnreported = 0

    /// The counts above, emptied: the caller keeps the run's counters.
    public func takeUnreported() -> (secrets: Int, content: Int) {
        defer { secretMatchesUnreported = 0; contentFindingsUnreported = 0 }
        return (secretMatchesUnreported, contentFindingsUnreported)
    }

    public convenience init(config: DetectionConfig) { self.init(config: config, gateSlots: 64) }

    /// `gateSlots`: the slots of each kind's gate cache (a power of two; tests make it 1, so that
    /// every method shares one).
    init(config: DetectionConfig, gateSlots: Int) {
        self.config = config
        self.gateSlots = gateSlots
        gateCaches = DetectionEngine.gateCaches(slots: gateSlots)
        self.policy = PolicyDetectors(catalogue: config.catalogue, policy: config.policy)
        self.toolChange = ToolChangeDetector(policy: config.policy, pins: config.pins)
        self.secretDetector = SecretDetector(scanner: config.secrets)
        self.content = ContentDetectors(config: config.content)
        self.egress = EgressMonitor(policy: config.egress, servers: config.mcpServers)
        self.exposure = ExposureMonitor(policy: config.egress)
    }

    /// Swaps in a new rule set between two messages (SIGHUP). What the detectors learnt of the
    /// traffic (tool inventories seen, names of addresses, budgets, alerts already raised once)
    /// carries over, so a reload neither forgets a server's first tool listing nor repeats alerts.
    public func reload(_ new: DetectionConfig) {
        config = new
        policy.reconfigure(catalogue: new.catalogue, policy: new.policy)
        toolChange.reconfigure(policy: new.policy, pins: new.pins)
        secretDetector = SecretDetector(scanner: new.secrets)
        content = ContentDetectors(config: new.content)
        toolScans = ToolScanCache()
        gateCaches = DetectionEngine.gateCaches(slots: gateSlots)
        egress.reconfigure(policy: new.egress, servers: new.mcpServers)
        exposure.reconfigure(policy: new.egress)
    }

    /// What one message shows. `headers`: the HTTP headers of the message carrying it.
    /// `secrets`: every secret value found, message and headers (for redaction of the output).
    public func inspect(_ event: MCPEvent, view: MCPMessageView, headers: HTTPHeaders?,
                        secretLocations: SecretLocations? = nil) -> (findings: [Finding], secrets: Set<String>, mask: SecretMask) {
        // Closure literals over a local collector, passed straight to the detectors: a closure
        // kept in a constant put itself and the two variables it captured on the heap, three
        // allocations a message.
        var found = FindingSet()
        // One walk gives both the findings and the secrets to mask (the request's method names
        // where a response's secret was found: "… in tools/call result").
        let located = secretLocations ?? secretDetector.locateMasked(view, headers: headers, cache: scanCache)
        secretMatchesUnreported &+= located.unreported
        let secrets = located.secrets
        // Sorted once, by the scan: the evidence here and the event's fields in the caller.
        let mask = SecretMask(needles: located.needles)
        secretDetector.report(located, view, requestMethod: event.method) { f in
            // Credentials in authentication headers are how MCP authenticates: redacted from all
            // output, but no alert (exposure of cleartext tokens beyond loopback is its own check).
            if f.evidence?.path.hasPrefix("header:") == true { return }
            found.add(f)
        }
        contentFindingsUnreported &+= content.inspect(view, event: event, tools: toolScans) { found.add($0) }
        policy.inspect(event) { found.add($0) }
        // The field box (a copy of the event) is made only for a rule that passes its gates,
        // and again for the evidence of one that matched.
        let candidates = gateCandidates(method: event.method, kind: event.kind)
        let matched = candidates.isEmpty ? []
            : config.rules.run(candidates, MessageFields(event: event, view: view, requestHeaders: headers))
        let fields = matched.isEmpty ? nil : MessageFields(event: event, view: view, requestHeaders: headers)
        for rule in matched {
            guard let fields else { break }
            var f = Finding(rule: rule)
            if let pointer = rule.evidencePointer(fields), let value = MessageText.at(pointer, in: view) {
                f.evidence = Evidence(redacted: String(value.prefix(200)), sha256: Redaction.sha256Hex(value.utf8), path: pointer)
            } else if let method = event.method {
                f.evidence = Evidence(redacted: method, sha256: Redaction.sha256Hex(method.utf8), path: "/method")
            }
            found.add(f)
        }
        exposure.inspect(event, headers: headers, carriesSecret: !secrets.isEmpty) { found.add($0) }
        egress.noteMCP(event)
        var findings = found.findings
        if !secrets.isEmpty {
            // Evidence that quotes message text (rules, paths, injection) must not carry a secret.
            for i in findings.indices {
                guard var e = findings[i].evidence else { continue }
                e.redacted = mask.apply(e.redacted)
                findings[i].evidence = e
            }
        }
        return (findings, secrets, mask)
    }

    /// `config.rules.candidates(method:kind:)`, kept in the kind's gate cache.
    private func gateCandidates(method: String?, kind: JSONRPCKind) -> [Int] {
        guard let method else { return config.rules.candidates(method: nil, kind: kind.rawValue) }
        return method.withUTF8Bytes { bytes in
            gateCaches[kind.gateCache].value(for: UnsafeRawBufferPointer(bytes)) {
                config.rules.candidates(method: method, kind: kind.rawValue)
            }
        }
    }

    private static func gateCaches(slots: Int) -> [BytesCache<[Int]>] {
        (0..<4).map { k in BytesCache(slotCount: slots, maxBytes: maxGateMethodBytes, seed: 0x2545_F491_4F6C_DD1D &+ UInt64(k)) }
    }

    /// A change in a server's tools, seen in a tools/list result.
    public func observe(_ o: ToolObservation, serverName: String?) -> [Finding] {
        var out: [Finding] = []
        toolChange.observe(o, serverName: serverName) { out.append($0) }
        return out
    }
}

extension JSONRPCKind {
    /// This kind's gate cache.
    fileprivate var gateCache: Int {
        switch self {
        case .request: 0
        case .notification: 1
        case .response: 2
        case .error: 3
        }
    }
}

/// Text of a message value for evidence: a string as is, anything else as compact JSON.
enum MessageText {
    static func at(_ pointer: String, in view: MCPMessageView) -> String? {
        let doc = view.document
        var ref = view.message.node
        for part in pointer.split(separator: "/") {
            let key = String(part).replacing("~1", with: "/").replacing("~0", with: "~")
            if doc.kind(ref) == .array, let i = Int(key) {
                let elements = doc.elements(ref)
                guard i >= 0, i < elements.count else { return nil }
                ref = elements[i]
            } else {
                guard let next = doc.member(ref, key) else { return nil }
                ref = next
            }
        }
        return doc.string(ref) ?? doc.compactText(ref)
    }
}

/// The findings of one message, each once: the same finding (rule, evidence path and digest)
/// on the same message raises one alert.
struct FindingSet {
    var findings: [Finding] = []
    /// Past `linearLimit` findings (a hostile message can carry thousands of secrets), each
    /// identity is also kept here, so that a check stays one lookup.
    private var seen: Set<Identity> = []
    private static let linearLimit = 16

    /// What makes two findings the same; a missing evidence is the same as empty text.
    private struct Identity: Hashable {
        let rule: String, path: String, sha256: String
        init(_ f: Finding) { rule = f.rule; path = f.evidence?.path ?? ""; sha256 = f.evidence?.sha256 ?? "" }
    }

    mutating func add(_ f: Finding) {
        // A message raises a few findings: compared field by field with each, no key text built
        // (building `rule|path|sha256` for each cost about 5 000 instructions a finding).
        if findings.count < Self.linearLimit {
            let path = f.evidence?.path ?? "", sha = f.evidence?.sha256 ?? ""
            for g in findings where g.rule == f.rule && (g.evidence?.path ?? "") == path
                && (g.evidence?.sha256 ?? "") == sha { return }
            findings.append(f)
            if findings.count == Self.linearLimit { seen = Set(findings.map(Identity.init)) }
            return
        }
        if seen.insert(Identity(f)).inserted { findings.append(f) }
    }
}
