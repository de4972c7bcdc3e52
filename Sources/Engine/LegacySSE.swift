/// The legacy HTTP+SSE transport (2024-11-05): session ids travel in the POST URL's query.
enum LegacySSE {
    /// The `session_id` (Python SDK) or `sessionId` (TypeScript SDK) query parameter of a URL or
    /// path, percent-decoding left alone (the SDKs use hex and UUIDs). Nil when absent or empty.
    static func sessionID(inURL url: String) -> String? {
        // Asked for every MCP payload: most URLs have no query, found without reading Characters.
        // Over the bytes in place: the String's UTF-8 view, walked element by element, cost
        // about 370 instructions a URL.
        guard url.withUTF8Bytes({ $0.contains(UInt8(ascii: "?")) }) else { return nil }
        var copy = url
        switch copy.withUTF8({ asciiSessionID($0) }) {
        case .decided(let id): return id
        case .undecided: return generalSessionID(url)
        }
    }

    /// `generalSessionID` over the bytes of an all-ASCII URL whose value needs no trimming:
    /// there every byte is one Character (CR LF aside, and a CR or LF sends the value to the
    /// general path), so the same pairs, names and value are found without building Substrings
    /// and arrays (legacy POSTs carry the id on every request). Undecided when the general path
    /// must answer: non-ASCII, or a space or control byte in the value (trimming is by Character).
    static func asciiSessionID(_ url: UnsafeBufferPointer<UInt8>) -> FastAnswer {
        for b in url where b >= 0x80 { return .undecided }
        guard let q = url.firstIndex(of: UInt8(ascii: "?")) else { return .decided(nil) }
        var end = url.count
        if let h = url[(q + 1)...].firstIndex(of: UInt8(ascii: "#")) { end = h }
        var start = q + 1
        while start < end {
            var stop = start
            while stop < end, url[stop] != UInt8(ascii: "&") { stop += 1 }
            defer { start = stop + 1 }
            guard let eq = url[start..<stop].firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = UnsafeBufferPointer(rebasing: url[start..<eq])
            guard name.elementsEqual("session_id".utf8) || name.elementsEqual("sessionId".utf8) else { continue }
            let value = UnsafeBufferPointer(rebasing: url[(eq + 1)..<stop])
            if value.contains(where: { $0 < 0x21 || $0 == 0x7F }) { return .undecided }
            if value.isEmpty || value.count > 256 { return .decided(nil) }
            return .decided(String(decoding: value, as: UTF8.self))
        }
        return .decided(nil)
    }

    enum FastAnswer: Equatable {
        case decided(String?)
        case undecided
    }

    /// Any URL, Character by Character.
    static func generalSessionID(_ url: String) -> String? {
        guard let q = url.firstIndex(of: "?") else { return nil }
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
