/// The legacy HTTP+SSE transport (2024-11-05): session ids travel in the POST URL's query.
enum LegacySSE {
    /// The `session_id` (Python SDK) or `sessionId` (TypeScript SDK) query parameter of a URL or
    /// path, percent-decoding left alone (the SDKs use hex and UUIDs). Nil when absent or empty.
    static func sessionID(inURL url: String) -> String? {
        // Asked for every MCP payload: most URLs have no query, found without reading Characters.
        guard url.utf8.contains(UInt8(ascii: "?")), let q = url.firstIndex(of: "?") else { return nil }
        var query = url[url.index(after: q)...]
        if let hash = query.firstIndex(of: "#") { query = query[..<hash] }
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, parts[0] == "session_id" || parts[0] == "sessionId" else { continue }
            let value = parts[1].trimmingSpaces()
            // A session id is a token: refuse anything long or with control characters.
            if value.isEmpty || value.count > 256 || value.utf8.contains(where: { $0 < 0x21 || $0 == 0x7F }) { return nil }
            return String(value)
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let f = s.first, f == " " || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\r" || l == "\n" { s = s.dropLast() }
        return s
    }
}
