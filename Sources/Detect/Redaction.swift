import SonarCore
import SonarMCP

/// Masking of secrets in everything the sensor writes.
public enum Redaction {
    /// The contract's masked form: at most the first 4 and last 4 characters kept, the rest `*`;
    /// short values keep less so that at least half is always hidden.
    public static func mask(_ secret: String) -> String {
        let chars = Array(secret)
        let n = chars.count
        let keep = n >= 16 ? 4 : n >= 8 ? 2 : 0
        guard keep > 0 else { return String(repeating: "*", count: n) }
        return String(chars[..<keep]) + String(repeating: "*", count: n - 2 * keep) + String(chars[(n - keep)...])
    }

    /// Hex SHA-256 of the exact matched bytes.
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        Array(bytes).withUnsafeBytes { MCPTracker.sha256($0) }.hex
    }

    public static func evidence(secret: String, path: String) -> Evidence {
        Evidence(redacted: mask(secret), sha256: sha256Hex(secret.utf8), path: path)
    }
}
