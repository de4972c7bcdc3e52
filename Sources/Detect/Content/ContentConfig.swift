// Configuration of the content detectors (`rules/content.yml`): phrase and file lists, switches.
import Yams

/// Why `rules/content.yml` cannot be used: the shared `ConfigError` (file, line, column, reason).
public typealias ContentConfigError = ConfigError

/// Everything the content detectors are told from `rules/content.yml`. The lists are data, not
/// code, so that an operator can add a marker phrase or a credential file without a rebuild.
/// Lists are read-only once loaded (they are compiled into matchers at load time); the switches
/// and the PII severity may be changed by the program (a command-line flag, say).
/// Phrase lists use a small pattern syntax (see `rules/content.yml`): words separated by spaces
/// match across any run of whitespace, `(a|b)` is a required alternative, `(a|b)?` an optional one.
public struct ContentConfig: Sendable {
    // Poisoning (server-provided text the model reads, and tool output).
    public var poisoningEnabled = true
    public private(set) var instructionMarkers: [String] = []
    public private(set) var credentialReferences: [String] = []
    public private(set) var exfiltrationPhrases: [String] = []
    public private(set) var exfiltrationVerbs: [String] = []
    public private(set) var exfiltrationObjects: [String] = []
    // Sensitive paths (request arguments).
    public var pathsEnabled = true
    public private(set) var pathKeys: [String] = []
    public private(set) var credentialFiles: [String] = []
    public private(set) var systemFiles: [String] = []
    // Command injection (tools/call arguments).
    public var injectionEnabled = true
    public private(set) var commandWords: [String] = []
    public private(set) var shellKeys: [String] = []
    public private(set) var fetchers: [String] = []
    public private(set) var interpreters: [String] = []
    // PII (results going to the client).
    public var piiEnabled = true
    public var piiSeverity = 3
    public var piiEmail = true
    public var piiPaymentCard = true
    public var piiIBAN = true

    /// Compiled forms, built once at load time.
    var markers = PhraseSet()
    var exfiltration = PhraseSet()
    var exfilVerbSet = WordSet()
    var exfilObjectSet = WordSet()
    var credentialRefs = NeedleSet()
    var credentialFileSet = NeedleSet()
    var systemFileSet = NeedleSet()
    var pathKeySet: Set<String> = []
    /// `pathKeySet`'s names as bytes, for names sent in ASCII (`ContentDetectors.isPathKey`).
    var pathKeyBytes: [[UInt8]] = []
    var shellKeySet: Set<String> = []
    var commandWordSet = WordSet()
    var fetcherSet = WordSet()
    var interpreterSet = WordSet()

    /// Reads and validates a configuration file.
    public static func load(path: String) throws(ContentConfigError) -> ContentConfig {
        try load(yaml: readText(path, file: path), file: path)
    }

    /// Parses configuration text; `file` names it in errors. Unknown keys are errors: a misspelt
    /// switch must not silently leave a detector with its default.
    public static func load(yaml: String, file: String) throws(ContentConfigError) -> ContentConfig {
        let root = try ConfigYAML(file: file).compose(yaml)
        guard let root, let top = root.mapping else {
            throw ContentConfigError(file: file, line: root?.mark?.line ?? 1, column: root?.mark?.column ?? 1,
                                     reason: "expected a mapping with poisoning, paths, injection, pii")
        }
        var c = ContentConfig()
        let reader = Reader(file: file)
        for (k, v) in top {
            switch try reader.key(k) {
            case "version":
                guard try reader.int(v) == 1 else { throw reader.error(v, "unsupported version (expected 1)") }
            case "poisoning":
                for (k2, v2) in try reader.mapping(v) {
                    switch try reader.key(k2) {
                    case "enabled": c.poisoningEnabled = try reader.bool(v2)
                    case "instruction_markers": c.instructionMarkers = try reader.strings(v2)
                        c.markers = try reader.phrases(v2, c.instructionMarkers)
                    case "credential_references": c.credentialReferences = try reader.strings(v2)
                        c.credentialRefs = try reader.needles(v2, c.credentialReferences)
                    case "exfiltration_phrases": c.exfiltrationPhrases = try reader.strings(v2)
                        c.exfiltration = try reader.phrases(v2, c.exfiltrationPhrases)
                    case "exfiltration_verbs": c.exfiltrationVerbs = try reader.strings(v2)
                        c.exfilVerbSet = try reader.words(v2, c.exfiltrationVerbs)
                    case "exfiltration_objects": c.exfiltrationObjects = try reader.strings(v2)
                        c.exfilObjectSet = try reader.words(v2, c.exfiltrationObjects)
                    default: throw reader.error(k2, "unknown key in poisoning")
                    }
                }
            case "paths":
                for (k2, v2) in try reader.mapping(v) {
                    switch try reader.key(k2) {
                    case "enabled": c.pathsEnabled = try reader.bool(v2)
                    case "path_keys": c.pathKeys = try reader.strings(v2)
                        c.pathKeySet = Set(c.pathKeys.map { $0.lowercased() })
                        c.pathKeyBytes = c.pathKeySet.sorted().map { Array($0.utf8) }
                    case "credential_files": c.credentialFiles = try reader.strings(v2)
                        c.credentialFileSet = try reader.needles(v2, c.credentialFiles)
                    case "system_files": c.systemFiles = try reader.strings(v2)
                        c.systemFileSet = try reader.needles(v2, c.systemFiles)
                    default: throw reader.error(k2, "unknown key in paths")
                    }
                }
            case "injection":
                for (k2, v2) in try reader.mapping(v) {
                    switch try reader.key(k2) {
                    case "enabled": c.injectionEnabled = try reader.bool(v2)
                    case "command_words": c.commandWords = try reader.strings(v2)
                        c.commandWordSet = try reader.words(v2, c.commandWords)
                    case "shell_keys": c.shellKeys = try reader.strings(v2)
                        c.shellKeySet = Set(c.shellKeys.map { $0.lowercased() })
                    case "fetchers": c.fetchers = try reader.strings(v2)
                        c.fetcherSet = try reader.words(v2, c.fetchers)
                    case "interpreters": c.interpreters = try reader.strings(v2)
                        c.interpreterSet = try reader.words(v2, c.interpreters)
                    default: throw reader.error(k2, "unknown key in injection")
                    }
                }
            case "pii":
                for (k2, v2) in try reader.mapping(v) {
                    switch try reader.key(k2) {
                    case "enabled": c.piiEnabled = try reader.bool(v2)
                    case "severity":
                        let s = try reader.int(v2)
                        guard (1...3).contains(s) else { throw reader.error(v2, "severity must be 1, 2 or 3") }
                        c.piiSeverity = s
                    case "email": c.piiEmail = try reader.bool(v2)
                    case "payment_card": c.piiPaymentCard = try reader.bool(v2)
                    case "iban": c.piiIBAN = try reader.bool(v2)
                    default: throw reader.error(k2, "unknown key in pii")
                    }
                }
            default:
                throw reader.error(k, "unknown top-level key")
            }
        }
        return c
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Typed access to YAML nodes with positions in every error.
private struct Reader {
    let file: String

    func error(_ node: Node, _ reason: String) -> ContentConfigError {
        ContentConfigError(file: file, line: node.mark?.line ?? 1, column: node.mark?.column ?? 1, reason: reason)
    }

    func key(_ node: Node) throws(ContentConfigError) -> String {
        guard let s = node.scalar?.string else { throw error(node, "expected a key") }
        return s
    }

    func mapping(_ node: Node) throws(ContentConfigError) -> Node.Mapping {
        guard let m = node.mapping else { throw error(node, "expected a mapping") }
        return m
    }

    func bool(_ node: Node) throws(ContentConfigError) -> Bool {
        switch node.scalar?.string {
        case "true": return true
        case "false": return false
        default: throw error(node, "expected true or false")
        }
    }

    func int(_ node: Node) throws(ContentConfigError) -> Int {
        guard let s = node.scalar?.string, let v = Int(s) else { throw error(node, "expected an integer") }
        return v
    }

    func strings(_ node: Node) throws(ContentConfigError) -> [String] {
        guard let seq = node.sequence else { throw error(node, "expected a list of strings") }
        var out: [String] = []
        for item in seq {
            guard let s = item.scalar?.string, !s.isEmpty else { throw error(item, "expected a non-empty string") }
            guard s.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw error(item, "entries are matched as ASCII: use printable ASCII only")
            }
            out.append(s)
        }
        return out
    }

    func phrases(_ node: Node, _ texts: [String]) throws(ContentConfigError) -> PhraseSet {
        var set = PhraseSet()
        for (i, t) in texts.enumerated() {
            if let reason = set.add(t) {
                let item = node.sequence.flatMap { i < $0.count ? $0[i] : nil } ?? node
                throw error(item, reason)
            }
        }
        return set
    }

    func needles(_ node: Node, _ texts: [String]) throws(ContentConfigError) -> NeedleSet {
        NeedleSet(texts)
    }

    func words(_ node: Node, _ texts: [String]) throws(ContentConfigError) -> WordSet {
        for (i, t) in texts.enumerated() where !t.utf8.allSatisfy({ ByteClass.isWordByte($0) || $0 == 0x2E || $0 == 0x2D }) {
            let item = node.sequence.flatMap { i < $0.count ? $0[i] : nil } ?? node
            throw error(item, "a command word is letters, digits, '_', '-' or '.' only: \(t)")
        }
        return WordSet(texts)
    }
}
