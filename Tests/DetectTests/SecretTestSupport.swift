import Testing
import SonarCore
import SonarMCP
import SonarProtocols
@testable import SonarDetect

/// The repository's own `rules/secrets.yml`, loaded once.
enum SecretRules {
    static let root: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3) // Tests/DetectTests/<file>
        return parts.joined(separator: "/")
    }()
    static let path = root + "/rules/secrets.yml"
    static let scanner: SecretScanner = {
        do throws(SecretConfigError) {
            return try SecretScanner.load(path: path)
        } catch {
            Issue.record("rules/secrets.yml does not load: \(error)")
            return SecretScanner(patterns: [])
        }
    }()
}

/// Deterministic fake-secret material (SplitMix64): realistic shapes, never real credentials.
struct FakeRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func string(_ alphabet: String, _ count: Int) -> String {
        let a = Array(alphabet)
        return String((0..<count).map { _ in a[Int(next() % UInt64(a.count))] })
    }
}

enum Alphabet {
    static let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    static let lower = "abcdefghijklmnopqrstuvwxyz"
    static let digits = "0123456789"
    static let alnum = upper + lower + digits
    static let upperAlnum = upper + digits
    static let lowerHex = "0123456789abcdef"
    static let base64 = alnum + "+/"
    static let base64url = alnum + "-_"
}

enum Fake {
    /// A GitHub-format token: 30 base62 characters and their CRC32 in base62.
    static func github(_ prefix: String, seed: UInt64) -> String {
        var r = FakeRandom(seed: seed)
        let entropy = r.string(Alphabet.alnum, 30)
        let sum = SecretCodec.base62(SecretCodec.crc32(Array(entropy.utf8)), width: 6)
        return prefix + entropy + String(decoding: sum, as: UTF8.self)
    }

    static func s(_ alphabet: String, _ count: Int, seed: UInt64) -> String {
        var r = FakeRandom(seed: seed)
        return r.string(alphabet, count)
    }

    static func base64(_ bytes: [UInt8], url: Bool = false, pad: Bool = true) -> String {
        let table = Array((url ? Alphabet.upper + Alphabet.lower + Alphabet.digits + "-_"
                               : Alphabet.upper + Alphabet.lower + Alphabet.digits + "+/").utf8)
        var out: [UInt8] = []
        var i = 0
        while i < bytes.count {
            let n = min(3, bytes.count - i)
            var v = UInt32(bytes[i]) << 16
            if n > 1 { v |= UInt32(bytes[i + 1]) << 8 }
            if n > 2 { v |= UInt32(bytes[i + 2]) }
            for k in 0...n { out.append(table[Int((v >> UInt32(18 - 6 * k)) & 63)]) }
            if pad { for _ in n..<3 { out.append(UInt8(ascii: "=")) } }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func base64(_ text: String, url: Bool = false, pad: Bool = true) -> String {
        base64(Array(text.utf8), url: url, pad: pad)
    }

    static let jwt: String = {
        base64(#"{"alg":"HS256","typ":"JWT"}"#, url: true, pad: false) + "."
            + base64(#"{"sub":"user-4711","iat":1764000000}"#, url: true, pad: false) + "."
            + s(Alphabet.base64url, 43, seed: 19)
    }()

    static let pemBody: String = {
        (0..<4).map { s(Alphabet.base64, 64, seed: 200 + UInt64($0)) }.joined(separator: "\n")
    }()

    static let pem = "-----BEGIN RSA PRIVATE KEY-----\n" + pemBody + "\n-----END RSA PRIVATE KEY-----"
}

/// One JSON-RPC message parsed the way the tracker hands it to detectors.
func messageView(_ json: String) -> MCPMessageView? {
    guard let doc = try? JSONDocument.parse(Array(json.utf8)) else { return nil }
    var counters = Counters()
    let result = JSONRPC.classify(doc, counters: &counters)
    guard let message = result.messages.first else { return nil }
    return MCPMessageView(document: doc, message: message)
}

func findings(_ json: String, headers: HTTPHeaders? = nil, requestMethod: String? = nil) -> [Finding] {
    guard let view = messageView(json) else {
        Issue.record("not a JSON-RPC message: \(json)")
        return []
    }
    var out: [Finding] = []
    SecretDetector(scanner: SecretRules.scanner).inspect(view, headers: headers, requestMethod: requestMethod) { out.append($0) }
    return out
}

extension SecretScanCache {
    /// The header cache asked with Strings, as the detector asks it with a field's bytes.
    func matches(headerName name: String, value: String, scanner: SecretScanner) -> [SecretMatch] {
        name.withUTF8Bytes { n in
            value.withUTF8Bytes { v in
                matches(headerName: UnsafeRawBufferPointer(n), value: UnsafeRawBufferPointer(v), scanner: scanner)
            }
        }
    }
}
