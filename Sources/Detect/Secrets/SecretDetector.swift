// Secrets in MCP messages: every string value and object key of a message, and the HTTP request
// headers that carried it, become findings with masked evidence.
import SonarCore
import SonarMCP
import SonarProtocols

/// Walks one message (every string value AND object key, at any depth: params, result, error)
/// and the given HTTP request headers, reporting one `Finding` per distinct (pattern, value,
/// path) with evidence (mask, SHA-256 of the exact secret, JSON pointer or `header:<name>`).
public struct SecretDetector: Sendable {
    public let scanner: SecretScanner

    public init(scanner: SecretScanner) { self.scanner = scanner }

    /// Findings reported for one message (its headers included): past them, secrets are still
    /// found and masked everywhere, but not reported one by one (`SecretLocations.unreported`).
    /// A message of ten thousand keys is one attack, not ten thousand alerts, and each reported
    /// finding's path and signature is masked against every secret of the message.
    public static let maxReportedPerMessage = 64

    /// One secret at one place.
    struct Located: Hashable {
        var match: SecretMatch
        /// JSON pointer from the message, or `header:<lowercased name>`.
        var path: String
        /// Where it was, for the signature: "params", "result", "error", "id", "header Authorization".
        var place: String
    }

    /// Reports findings for `view` and `headers`. The signature reads like "GitHub personal access
    /// token in tools/call result"; the method of a response is not in the message, so
    /// `requestMethod` lets the caller name it.
    public func inspect(_ view: MCPMessageView, headers: HTTPHeaders?, report: (Finding) -> Void) {
        inspect(view, headers: headers, requestMethod: nil, report: report)
    }

    /// `inspect` with the method of the request a response answers, for the signature. Returns
    /// what `secrets(in:headers:)` would, so a caller that also redacts scans the message once.
    @discardableResult
    public func inspect(_ view: MCPMessageView, headers: HTTPHeaders?, requestMethod: String?,
                        located: SecretLocations? = nil, cache: SecretScanCache? = nil,
                        report: (Finding) -> Void) -> Set<String> {
        let found = located ?? locateMasked(view, headers: headers, cache: cache)
        self.report(found, view, requestMethod: requestMethod, report)
        return found.secrets
    }

    /// The findings of what `locateMasked` found (at most `maxReportedPerMessage`), each signature
    /// masked against every secret of the message.
    func report(_ found: borrowing SecretLocations, _ view: MCPMessageView, requestMethod: String?,
                _ report: (Finding) -> Void) {
        let method = view.message.method ?? requestMethod
        let needles = found.needles
        for hit in found.hits {
            guard let pattern = scanner.pattern(hit.match.pattern) else { continue }
            var signature = pattern.name + " in "
            if hit.path.hasPrefix("header:") {
                signature += hit.place
            } else if let method {
                signature += method + " " + hit.place
            } else {
                signature += hit.place
            }
            switch hit.match.encoding {
            case "base64": signature += " (base64-encoded)"
            case "url": signature += " (URL-encoded)"
            default: break
            }
            // A method name (or header name) may itself be a secret the message carried.
            let bytes = Array(signature.utf8)
            if needles.contains(where: { PayloadRedaction.contains(bytes[...], $0.bytes) }) {
                signature = String(decoding: PayloadRedaction.replace(bytes, needles), as: UTF8.self)
            }
            report(Finding(rule: "secret." + pattern.id, signatureId: pattern.signatureId, signature: signature,
                           category: .secret, severity: pattern.severity,
                           evidence: Redaction.evidence(secret: hit.match.value, path: hit.path)))
        }
    }

    /// Every secret value found in the message and headers (for redaction), with the encoded text
    /// that carried any secret found only after decoding.
    public func secrets(in view: MCPMessageView, headers: HTTPHeaders?) -> Set<String> {
        locateMasked(view, headers: headers).secrets
    }

    /// Where the secrets of a message and its headers are: what `inspect` reports from. The first
    /// `maxReportedPerMessage` distinct (pattern, value, path) in document order, headers last,
    /// with every secret masked in the paths; the replacements that mask them; every secret
    /// found, reported or not; and how many matches went unreported. It depends on nothing but
    /// the message, the headers and the patterns, so worker threads find it ahead of the session
    /// stage. (Named as the build's profile knows it: `Profiles/`.)
    public func locateMasked(_ view: MCPMessageView, headers: HTTPHeaders?, cache: SecretScanCache? = nil) -> SecretLocations {
        // Closure literals over a local collector: a nested function capturing the variables
        // put them on the heap, two allocations a message.
        var found = LocatedSet()
        let doc = view.document
        let message = view.message.node
        // Every member name and string value at any depth (params, result, error), in document
        // order: one loop over the message's tape that calls back only for strings long enough
        // to hold something, in themselves or by their name (most names and values are
        // shorter), or written with escapes, with the name each sits under.
        if doc.kind(message) == .object {
            // `name`: the member name the string sits under; `top`: the top-level member holding it.
            doc.forEachString(in: message, atLeast: scanner.compiled.shortestAny) { node, name, top in
                let matches = scanString(doc, node, key: name, cache)
                guard !matches.isEmpty else { return }
                // Past the reported ones, only the secrets themselves are kept (no path is made:
                // a pointer is a walk from the message, and ten thousand of them a long one).
                if found.isFull { return found.keepUnreported(matches) }
                let path = doc.pointer(to: node, from: message) ?? ""
                let place = SecretDetector.place(of: top, in: doc)
                for m in matches { found.add(m, path, place) }
            }
        }
        if let headers {
            headers.forEachField { name, value in
                let matches = cache?.matches(headerName: name, value: value, scanner: scanner)
                    ?? scanHeader(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self))
                guard !matches.isEmpty else { return }
                if found.isFull { return found.keepUnreported(matches) }
                // Named only when something was found: most headers carry nothing.
                let text = String(decoding: name, as: UTF8.self)
                let path = "header:" + text.lowercased()
                let place = "HTTP header " + text
                for m in matches { found.add(m, path, place) }
            }
        }
        var out = found.located
        // Nearly every message: nothing found, nothing to mask (sorting even an empty set allocates).
        if out.isEmpty { return SecretLocations(hits: [], needles: [], secrets: [], unreported: 0) }
        // A secret used as an object key would otherwise sit unmasked in the pointers.
        var secrets = found.unreportedSecrets
        for l in out {
            secrets.insert(l.match.value)
            if let e = l.match.encodedText { secrets.insert(e) }
        }
        // Pointer tokens escape `~` and `/` (RFC 6901): mask the escaped spelling too.
        var needles: [PayloadRedaction.Needle] = []
        for secret in secrets.sorted(by: { ($0.utf8.count, $0) > ($1.utf8.count, $1) }) {
            let mask = Array(Redaction.mask(secret).utf8)
            needles.append((bytes: Array(secret.utf8), mask: mask))
            if secret.utf8.contains(where: { $0 == 0x2F || $0 == 0x7E }) {
                var escaped: [UInt8] = []
                for b in secret.utf8 {
                    switch b {
                    case 0x7E: escaped += [0x7E, 0x30]
                    case 0x2F: escaped += [0x7E, 0x31]
                    default: escaped.append(b)
                    }
                }
                needles.append((bytes: escaped, mask: mask))
            }
        }
        needles.sort { $0.bytes.count > $1.bytes.count }
        for i in out.indices where !out[i].path.hasPrefix("header:") {
            let path = Array(out[i].path.utf8)
            if needles.contains(where: { PayloadRedaction.contains(path[...], $0.bytes) }) {
                out[i].path = String(decoding: PayloadRedaction.replace(path, needles), as: UTF8.self)
            }
        }
        return SecretLocations(hits: out, needles: needles, secrets: secrets, unreported: found.unreported)
    }

    /// One finding per (pattern, value, path): the same secret twice in one string is one. At
    /// most `maxReportedPerMessage`; the secrets of the matches past them are kept to be masked.
    private struct LocatedSet {
        var located: [Located] = []
        private var seen: Set<[String]> = []
        /// The secrets (and the encoded texts that carried them) of matches not reported.
        private(set) var unreportedSecrets: Set<String> = []
        private(set) var unreported = 0

        var isFull: Bool { located.count >= SecretDetector.maxReportedPerMessage }

        mutating func add(_ m: SecretMatch, _ path: String, _ place: String) {
            if isFull { return keepUnreported([m]) }
            if seen.insert([m.pattern, m.value, path]).inserted {
                located.append(Located(match: m, path: path, place: place))
            }
        }

        mutating func keepUnreported(_ matches: [SecretMatch]) {
            for m in matches {
                unreported += 1
                unreportedSecrets.insert(m.value)
                if let e = m.encodedText { unreportedSecrets.insert(e) }
            }
        }
    }

    /// The secrets of one header field: its value as text, and by its name's context patterns.
    func scanHeader(name: String, value: String) -> [SecretMatch] {
        let keyed = scanner.hasContext(forKey: name) ? scanner.scan(value: value, key: name) : []
        return scanner.merge(text: scanner.scan(value), keyed: keyed)
    }

    /// The places a signature names: the top-level members JSON-RPC defines.
    private static let places = ["params", "result", "error", "id", "method", "jsonrpc"]

    /// The member of `places` a top-level key names, or "message" (also with no key). A key as
    /// sent (no escapes) is told by its length first, so most keys are compared with one name,
    /// not six.
    static func place(of key: JSONRef?, in doc: JSONDocument) -> String {
        guard let key else { return "message" }
        guard !doc.hasEscapes(key) else { return places.first { doc.keyEquals(key, $0) } ?? "message" }
        switch doc.range(key).count - 2 { // the quotes
        case 2: if doc.keyEquals(key, literal: "id") { return "id" }
        case 5: if doc.keyEquals(key, literal: "error") { return "error" }
        case 6:
            if doc.keyEquals(key, literal: "params") { return "params" }
            if doc.keyEquals(key, literal: "result") { return "result" }
            if doc.keyEquals(key, literal: "method") { return "method" }
        case 7: if doc.keyEquals(key, literal: "jsonrpc") { return "jsonrpc" }
        default: break
        }
        return "message"
    }

    /// The secrets of one string node, found in its text and by the member name `keyNode` it
    /// sits under. The caller passes only strings long enough to hold one, or written with
    /// escapes (`JSONDocument.forEachString(in:atLeast:_:)`).
    private func scanString(_ doc: JSONDocument, _ node: JSONRef, key keyNode: JSONRef?,
                            _ cache: SecretScanCache?) -> [SecretMatch] {
        // Escape-free strings are scanned in place; escaped ones are decoded first so that
        // `\u0067hp_…` cannot hide a token.
        var matches: [SecretMatch]
        var key: String? = nil
        var keyed = false
        if let k = keyNode {
            if doc.hasEscapes(k) {
                key = doc.string(k)
                keyed = key.map { scanner.hasContext(forKey: $0) } ?? false
            } else {
                // The name's bytes as sent are its text: no String unless a pattern wants it.
                let r = doc.range(k)
                keyed = r.count >= 2 && doc.bytes.withUnsafeBufferPointer {
                    scanner.hasContext(forKeyBytes: UnsafeBufferPointer(rebasing: $0[(r.lowerBound + 1)..<(r.upperBound - 1)]))
                }
                if keyed { key = doc.string(k) }
            }
        }
        if doc.hasEscapes(node) {
            guard let text = doc.string(node) else { return [] }
            matches = scanner.scan(text)
            if keyed, let key { matches = scanner.merge(text: matches, keyed: scanner.scan(value: text, key: key)) }
        } else {
            // In place in the document's bytes (no slice of them made per string).
            let r = doc.range(node)
            guard r.count >= 2 else { return [] }
            matches = doc.bytes.withUnsafeBufferPointer { all in
                let text = UnsafeBufferPointer(rebasing: all[(r.lowerBound + 1)..<(r.upperBound - 1)])
                return cache?.matches(utf8: text, scanner: scanner) ?? scanner.scan(utf8: text)
            }
            if keyed, let key, let text = doc.string(node) {
                matches = scanner.merge(text: matches, keyed: scanner.scan(value: text, key: key))
            }
        }
        return matches
    }
}

/// The secrets of one message and its headers, masked in their paths (`SecretDetector.locateMasked`).
public struct SecretLocations: Sendable {
    /// What is reported: at most `SecretDetector.maxReportedPerMessage`.
    let hits: [SecretDetector.Located]
    /// Every secret found, longest first, with its mask (and the spelling a JSON pointer gives it).
    let needles: [PayloadRedaction.Needle]
    /// Every secret found, reported or not, and the encoded text that carried any: what
    /// redaction masks.
    public let secrets: Set<String>
    /// Matches found past the reported ones (counted `secrets.unreported`).
    public let unreported: Int
}

/// What the texts seen lately hold: every message repeats most of the strings of the one before
/// (member names, methods, tool names, schemas) and every request most of its headers (host,
/// content type, user agent, session id). What a text holds depends only on its bytes (and a
/// header's name) and the patterns, so the answer is the scan's. One per thread (not shared).
///
/// Two direct-mapped tables of `slotCount` slots, for JSON strings and for header fields, each
/// slot chosen by a hash of the bytes and compared byte for byte (String equality would join
/// canonically equivalent spellings; the scan, and the text to redact, are of the bytes sent).
/// A collision replaces the slot, so crafted input can only make the sensor scan as it would
/// without the cache. Texts over `maxTextBytes` are scanned each time: at most
/// 2 × 4,096 slots of 256 bytes (or a header's name and value of 256 each) are kept.
public final class SecretScanCache {
    /// What an entry knows besides its bytes.
    private struct EntryInfo {
        let hash: UInt64
        /// Bytes stored after the header: a header field's name then its value, or a text.
        let count: Int
        /// The name's share of them (a text: all of them).
        let nameCount: Int
        let matches: [SecretMatch]
    }
    /// One object, made on a miss and read on every hit: a hit takes one reference to it, not
    /// one to each String and array of a struct copied out of the table. Its bytes are stored
    /// in it, after its header: held in an array of their own, they were one more object a
    /// lookup reached after the slot and the entry, a third dependent cache miss for every
    /// field of every head once a thousand connections take turns.
    private final class Entry: ManagedBuffer<EntryInfo, UInt8> {
        static func make(hash: UInt64, _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer,
                         matches: [SecretMatch]) -> Entry {
            let count = name.count + value.count
            let made = Entry.create(minimumCapacity: count) { _ in
                EntryInfo(hash: hash, count: count, nameCount: name.count, matches: matches)
            }
            // `create` called on this class makes an instance of it.
            let entry = unsafeDowncast(made, to: Entry.self)
            entry.withUnsafeMutablePointerToElements { p in
                let to = UnsafeMutableRawPointer(p)
                if let from = name.baseAddress { to.copyMemory(from: from, byteCount: name.count) }
                if let from = value.baseAddress { (to + name.count).copyMemory(from: from, byteCount: value.count) }
            }
            return entry
        }

        /// Whether this entry is of exactly these bytes (`value` empty for a text).
        func holds(_ hash: UInt64, _ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) -> Bool {
            withUnsafeMutablePointers { info, p in
                guard info.pointee.hash == hash, info.pointee.nameCount == name.count,
                      info.pointee.count == name.count + value.count else { return false }
                let stored = UnsafeRawPointer(p)
                return ByteHash.same(UnsafeRawBufferPointer(start: stored, count: name.count), name)
                    && ByteHash.same(UnsafeRawBufferPointer(start: stored + name.count, count: value.count), value)
            }
        }

        /// Read through the header's pointer: `header`, a class's stored property, is checked for
        /// exclusive access at run time on every read.
        var matches: [SecretMatch] { withUnsafeMutablePointerToHeader { $0.pointee.matches } }
    }
    // Unchecked exclusivity: each access is one subscript read or write of the standard
    // library's, with no code of ours running inside it, so no two can overlap (the scans run
    // between accesses). The check cost more than the lookup itself.
    @exclusivity(unchecked) private var headers: [Entry?]
    @exclusivity(unchecked) private var texts: [Entry?]
    /// The patterns the answers were found with: new patterns (a rules reload) start afresh.
    /// Held, not just identified, so that new patterns can never sit at the old ones' address.
    @exclusivity(unchecked) private var compiled: SecretScanner.Compiled?
    public static let slotCount = 4096
    public static let maxTextBytes = 256

    public init() {
        headers = Array(repeating: nil, count: Self.slotCount)
        texts = Array(repeating: nil, count: Self.slotCount)
    }

    /// Slots in use (tests).
    public var count: Int { headers.reduce(0) { $0 + ($1 == nil ? 0 : 1) } + texts.reduce(0) { $0 + ($1 == nil ? 0 : 1) } }

    private func use(_ scanner: SecretScanner) {
        guard compiled !== scanner.compiled else { return }
        for i in headers.indices { headers[i] = nil }
        for i in texts.indices { texts[i] = nil }
        compiled = scanner.compiled
    }

    /// `SecretDetector.scanHeader(name:value:)` of a field's bytes as sent.
    func matches(headerName name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer,
                 scanner: SecretScanner) -> [SecretMatch] {
        // A value too short for the text scan and for any context pattern holds nothing
        // (a String repaired from invalid UTF-8 is never shorter than its bytes).
        if value.count < scanner.compiled.shortestAny { return [] }
        func scan() -> [SecretMatch] {
            SecretDetector(scanner: scanner).scanHeader(name: String(decoding: name, as: UTF8.self),
                                                        value: String(decoding: value, as: UTF8.self))
        }
        guard value.count <= Self.maxTextBytes, name.count <= Self.maxTextBytes else { return scan() }
        use(scanner)
        let hash = ByteHash.mix(ByteHash.mix(0x9E37_79B9_7F4A_7C15, name) ^ 0xFF, value)
        let slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        if let e = headers[slot], e.holds(hash, name, value) { return e.matches }
        let found = scan()
        headers[slot] = Entry.make(hash: hash, name, value, matches: found)
        return found
    }

    /// `SecretScanner.scan(utf8:)`.
    func matches(utf8 text: UnsafeBufferPointer<UInt8>, scanner: SecretScanner) -> [SecretMatch] {
        // Too short to hold anything: answered without a hash.
        guard text.count >= scanner.compiled.shortestMatch else { return [] }
        guard text.count <= Self.maxTextBytes else { return scanner.scan(utf8: text) }
        use(scanner)
        let hash = ByteHash.mix(0x2545_F491_4F6C_DD1D, UnsafeRawBufferPointer(text))
        let slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        let bytes = UnsafeRawBufferPointer(text)
        if let e = texts[slot], e.holds(hash, bytes, UnsafeRawBufferPointer(start: nil, count: 0)) { return e.matches }
        let found = scanner.scan(utf8: text)
        texts[slot] = Entry.make(hash: hash, bytes, UnsafeRawBufferPointer(start: nil, count: 0), matches: found)
        return found
    }
}
