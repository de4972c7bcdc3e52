import SonarCore

/// Resolves the CNAME chains of one response: for every A or AAAA answer, in answer order, its
/// address and the names that lead to it — the start of the chain first (the question name when
/// the answers follow from it), then each alias, and last the owner of the address record — with
/// the smallest TTL along that chain (the time the whole mapping stays valid).
///
/// When several CNAMEs lead to the same name, the first in answer order is followed. CNAME loops
/// in the answers are cut: a name already in the chain ends it.
public func dnsAddressNames(_ m: DNSMessage) -> [(address: IPAddress, names: [String], ttl: UInt32)] {
    var aliasOf: [String: (owner: String, ttl: UInt32)] = [:]
    for r in m.answers where r.type == DNSType.cname {
        if let target = r.target, aliasOf[target] == nil { aliasOf[target] = (r.name, r.ttl) }
    }
    var result: [(address: IPAddress, names: [String], ttl: UInt32)] = []
    for r in m.answers {
        guard let address = r.address else { continue }
        var chain = [r.name]
        var seen: Set<String> = [r.name]
        var ttl = r.ttl
        var current = r.name
        while let link = aliasOf[current], !seen.contains(link.owner) {
            chain.append(link.owner)
            seen.insert(link.owner)
            ttl = min(ttl, link.ttl)
            current = link.owner
        }
        result.append((address, chain.reversed(), ttl))
    }
    return result
}
