import SonarCore
import Yams

/// The egress allow-list and exposure severities (`rules/egress.yml`, `--egress-allow`).
public struct EgressPolicy: Sendable {
    /// Lowercased names; each covers itself and its subdomains.
    public var names: [String] = []
    var blocks: [CIDRBlock] = []
    public var toolCallWindowSeconds: Int64 = 30
    public var dnsExempt = true
    public var severity: Int? = 2
    public var servedBeyondLoopback: Int? = 3
    public var cleartextSession: Int? = 2
    public var cleartextCredentials: Int? = 1
    public var noAuthorization: Int? = 2
    public var unauthenticatedAnswer: Int? = 2

    public init() {}

    /// Adds a name or a CIDR (`--egress-allow`); false when it is neither.
    public mutating func allow(_ text: String) -> Bool {
        if let block = CIDRBlock(text) { blocks.append(block); return true }
        let name = text.lowercased().trimmingDots()
        guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_" }) else { return false }
        names.append(name)
        return true
    }

    /// Whether a DNS name is covered: equal to an allowed name or a subdomain of one.
    public func allows(name: String) -> Bool {
        let n = name.lowercased().trimmingDots()
        return names.contains { n == $0 || n.hasSuffix("." + $0) }
    }

    public func allows(address: IPAddress) -> Bool {
        let a = IP128(address)
        return blocks.contains { $0.contains(a) }
    }

    public static func load(path: String) throws(ConfigError) -> EgressPolicy {
        try load(yaml: readText(path, file: path), file: path)
    }

    public static func load(yaml: String, file: String) throws(ConfigError) -> EgressPolicy {
        let y = ConfigYAML(file: file)
        let root = try y.mapping(try y.parse(yaml), "the egress policy")
        try y.onlyKeys(root, ["allow", "tool_call_window_seconds", "dns_exempt", "severity", "exposure"], "the egress policy")
        var p = EgressPolicy()
        if let a = root["allow"] {
            let m = try y.mapping(a, "allow")
            try y.onlyKeys(m, ["names", "cidrs"], "allow")
            if let namesNode = m["names"] {
                for n in try y.strings(namesNode, "names") {
                    guard CIDRBlock(n) == nil, p.allow(n) else { throw y.fail(namesNode, "'\(n)' is not a DNS name") }
                }
            }
            if let c = m["cidrs"] {
                for text in try y.strings(c, "cidrs") {
                    guard let block = CIDRBlock(text) else { throw y.fail(c, "'\(text)' is not a CIDR block") }
                    p.blocks.append(block)
                }
            }
        }
        if root["tool_call_window_seconds"] != nil {
            p.toolCallWindowSeconds = Int64(try y.positiveInt(root["tool_call_window_seconds"], "tool_call_window_seconds"))
        }
        if let d = root["dns_exempt"] {
            guard let b = d.bool else { throw y.fail(d, "dns_exempt must be true or false") }
            p.dnsExempt = b
        }
        if root["severity"] != nil { p.severity = try y.severity(root["severity"], "severity") }
        if let e = root["exposure"] {
            let m = try y.mapping(e, "exposure")
            try y.onlyKeys(m, ["served_beyond_loopback", "cleartext_session", "cleartext_credentials", "no_authorization", "unauthenticated_answer"], "exposure")
            if m["served_beyond_loopback"] != nil { p.servedBeyondLoopback = try y.severity(m["served_beyond_loopback"], "served_beyond_loopback") }
            if m["cleartext_session"] != nil { p.cleartextSession = try y.severity(m["cleartext_session"], "cleartext_session") }
            if m["cleartext_credentials"] != nil { p.cleartextCredentials = try y.severity(m["cleartext_credentials"], "cleartext_credentials") }
            if m["no_authorization"] != nil { p.noAuthorization = try y.severity(m["no_authorization"], "no_authorization") }
            if m["unauthenticated_answer"] != nil { p.unauthenticatedAnswer = try y.severity(m["unauthenticated_answer"], "unauthenticated_answer") }
        }
        return p
    }
}

extension IP128 {
    init(_ a: IPAddress) {
        switch a {
        case .v4(let v): self.init(hi: 0, lo: 0xFFFF_0000_0000 | UInt64(v), isV4: true)
        case .v6(let h, let l): self.init(hi: h, lo: l, isV4: false)
        }
    }
}

extension String {
    func trimmingDots() -> String {
        var s = Substring(self)
        while s.hasSuffix(".") { s = s.dropLast() }
        while s.hasPrefix(".") { s = s.dropFirst() }
        return String(s)
    }
}
