// The secret pattern model: what a configured pattern says, compiled into plain tables that the
// scanner reads without any regular expression.

/// The fixed set of body character classes a pattern may name in `rules/secrets.yml`.
public enum SecretCharset: String, Sendable, CaseIterable {
    /// `A-Z a-z 0-9`.
    case alnum
    /// `alnum` and `_`.
    case alnumUnderscore = "alnum_"
    /// `alnum`, `_` and `-`.
    case alnumDash = "alnum_dash"
    /// `A-Z a-z 0-9`, the alphabet of GitHub's checksummed tokens (same set as `alnum`).
    case base62
    /// `A-Z 0-9`.
    case upperAlnum = "upper_alnum"
    /// `a-z 0-9`.
    case lowerAlnum = "lower_alnum"
    /// `0-9 a-f A-F`.
    case hex
    /// `0-9 a-f`.
    case lowerHex = "lower_hex"
    /// `0-9`.
    case digits
    /// `alnum`, `+`, `/`, `=`.
    case base64
    /// `alnum`, `-`, `_`, `=`.
    case base64url
    /// What may follow `Bearer `: RFC 6750 b64token (`alnum - . _ ~ + / =`).
    case b64token
    /// A credential value after `key=` / `key:` — printable ASCII except white space, quotes,
    /// and the separators that end a value in query strings, shells and configs (`& , ; < > ( ) [ ] { }`).
    case value

    /// 256-entry membership table.
    func table(extra: [UInt8]) -> [Bool] {
        var t = [Bool](repeating: false, count: 256)
        func add(_ r: ClosedRange<UInt8>) { for b in r { t[Int(b)] = true } }
        func add(_ s: String) { for b in s.utf8 { t[Int(b)] = true } }
        switch self {
        case .alnum, .base62: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A)
        case .alnumUnderscore: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); add("_")
        case .alnumDash: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); add("_-")
        case .upperAlnum: add(0x30...0x39); add(0x41...0x5A)
        case .lowerAlnum: add(0x30...0x39); add(0x61...0x7A)
        case .hex: add(0x30...0x39); add(0x41...0x46); add(0x61...0x66)
        case .lowerHex: add(0x30...0x39); add(0x61...0x66)
        case .digits: add(0x30...0x39)
        case .base64: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); add("+/=")
        case .base64url: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); add("-_=")
        case .b64token: add(0x30...0x39); add(0x41...0x5A); add(0x61...0x7A); add("-._~+/=")
        case .value:
            add(0x21...0x7E)
            for b in "\"'`&,;<>()[]{}".utf8 { t[Int(b)] = false }
        }
        for b in extra { t[Int(b)] = true }
        return t
    }
}

/// Checksums a token must satisfy, from a fixed set.
public enum SecretChecksum: String, Sendable {
    /// GitHub's 2021 token format: the last 6 characters are the CRC32 (IEEE) of the characters
    /// between the prefix and them, in base62 (`0-9 A-Z a-z`), left-padded with `0`.
    case githubCRC32 = "github-crc32"
}

/// Structural checks that need more than a charset and a length, from a fixed set (no regex).
public enum SecretStructure: String, Sendable {
    /// Three base64url parts joined by `.`; the first decodes to a JSON object naming `"alg"`.
    case jwt
    /// `(RSA |EC |DSA |OPENSSH |ENCRYPTED )?PRIVATE KEY-----` after `-----BEGIN `, then the key
    /// body up to its `-----END … PRIVATE KEY-----` line (or as far as base64 lines go).
    case pemPrivateKey = "pem-private-key"
    /// Slack token: dash-separated parts, one of them at least 6 digits.
    case slackToken = "slack-token"
    /// Slack incoming webhook path: `T…/B…/` then 24 alphanumerics.
    case slackWebhook = "slack-webhook"
    /// `Basic ` credentials: base64 of `user:password` in printable ASCII.
    case basicAuth = "basic-auth"
}

/// One secret pattern, as configured in `rules/secrets.yml`.
public struct SecretPattern: Sendable, Identifiable {
    /// How a pattern finds its candidates.
    public enum Kind: String, Sendable {
        /// A literal prefix followed by the body (`ghp_…`, `AKIA…`).
        case token
        /// A key name (`password`, `aws_secret_access_key`) followed within a few characters by
        /// `=` or `:` and the value; also applied to JSON members and HTTP headers of that name.
        case context
    }

    /// Stable id, `alert.rule` is `secret.<id>`.
    public var id: String
    /// Human name used in the alert signature ("GitHub personal access token").
    public var name: String
    public var signatureId: Int
    /// 1 high, 2 medium, 3 low.
    public var severity: Int
    public var kind: Kind
    /// The literal prefilter: token prefixes (case-sensitive unless `caseInsensitive`).
    public var prefixes: [String]
    public var caseInsensitive: Bool
    /// Whether the prefix is part of the reported secret (`AKIA…` yes, `Bearer ` no).
    public var includePrefix: Bool
    /// Context patterns: key names (stored lowercased). In text, the name followed by `=` or `:`;
    /// as a JSON member or header name, any name that ends with it, in any case.
    public var contextKeys: [String]
    /// Context patterns: key names that contain a context key but never hold a secret (`progressToken`).
    public var excludeKeys: [String]
    public var charset: SecretCharset
    /// Extra bytes allowed in the body besides the charset.
    public var extraChars: String
    /// Bounds on the body length in bytes (after the prefix; for context patterns the value).
    public var minLength: Int
    public var maxLength: Int
    /// Body split by `partSeparator` must give exactly these parts, each within its bounds.
    public var partSeparator: String?
    public var parts: [ClosedRange<Int>]
    public var checksum: SecretChecksum?
    public var structure: SecretStructure?
    /// Minimum Shannon entropy of the body, bits per character (0: no check).
    public var minEntropy: Double
    /// Documented example values that are never reported.
    public var allow: [String]
    /// A generic pattern (Bearer, password=) gives way to a specific one matching the same bytes.
    public var generic: Bool

    public init(id: String, name: String, signatureId: Int, severity: Int, kind: Kind = .token,
                prefixes: [String] = [], caseInsensitive: Bool = false, includePrefix: Bool = true,
                contextKeys: [String] = [], excludeKeys: [String] = [],
                charset: SecretCharset, extraChars: String = "", minLength: Int, maxLength: Int,
                partSeparator: String? = nil, parts: [ClosedRange<Int>] = [],
                checksum: SecretChecksum? = nil, structure: SecretStructure? = nil,
                minEntropy: Double = 0, allow: [String] = [], generic: Bool = false) {
        self.id = id; self.name = name; self.signatureId = signatureId; self.severity = severity
        self.kind = kind; self.prefixes = prefixes; self.caseInsensitive = caseInsensitive
        self.includePrefix = includePrefix
        // Names compare case-insensitively: keep them folded once here.
        self.contextKeys = contextKeys.map { $0.lowercased() }; self.excludeKeys = excludeKeys.map { $0.lowercased() }
        self.charset = charset; self.extraChars = extraChars
        self.minLength = minLength; self.maxLength = maxLength
        self.partSeparator = partSeparator; self.parts = parts
        self.checksum = checksum; self.structure = structure; self.minEntropy = minEntropy
        self.allow = allow; self.generic = generic
    }
}

/// Why a secrets file was refused: the shared `ConfigError` (file, line, column, reason).
public typealias SecretConfigError = ConfigError
