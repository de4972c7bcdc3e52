// Tool poisoning: hidden characters, instruction markers, credential references and
// exfiltration phrasing in text a server hands the model.
import SonarMCP

/// What the hidden-character pass found in one string (scalar offsets of the first hit of each).
struct HiddenScan {
    var invisible: Int?
    var bidi: Int?
    var tag: Int?
    var tagText = ""
    var scalars: [Unicode.Scalar] = []

    /// Nil when the text holds none of them; the byte prefilter `mayHide` is all that ordinary
    /// text costs.
    static func scan(_ b: UnsafeBufferPointer<UInt8>) -> HiddenScan? {
        guard mayHide(b) else { return nil }
        let scalars = Array(String(decoding: b, as: UTF8.self).unicodeScalars)
        var out = HiddenScan()
        var k = 0
        while k < scalars.count {
            let v = scalars[k].value
            if Excerpt.isTag(v) {
                if out.tag == nil { out.tag = k }
                if let a = Excerpt.decodeTag(v), out.tagText.utf8.count < 200 { out.tagText.unicodeScalars.append(a) }
            } else if (v >= 0x202A && v <= 0x202E) || (v >= 0x2066 && v <= 0x2069) {
                if out.bidi == nil { out.bidi = k }
            } else if out.invisible == nil {
                if isZeroWidth(v) {
                    // A run of them, or one between ASCII characters, hides something; a single one
                    // beside non-ASCII text is how emoji (ZWJ), Indic and Persian (ZWNJ), Thai
                    // (ZWSP) and right-to-left text (LRM/RLM) are written, and passes.
                    var end = k
                    while end < scalars.count && isZeroWidth(scalars[end].value) { end &+= 1 }
                    let before = k > 0 ? scalars[k &- 1].value : 0x20
                    let after = end < scalars.count ? scalars[end].value : 0x20
                    if end &- k >= 3 || (before < 0x80 && after < 0x80) { out.invisible = k }
                    k = end
                    continue
                } else if v == 0xFEFF && k > 0 {
                    out.invisible = k  // a byte order mark only belongs at the very start
                } else if v == 0xAD && k &+ 1 < scalars.count && scalars[k &+ 1].value == 0xAD {
                    out.invisible = k  // one soft hyphen is a hyphenation hint; a run hides text
                }
            }
            k &+= 1
        }
        guard out.invisible != nil || out.bidi != nil || out.tag != nil else { return nil }
        out.scalars = scalars
        return out
    }

    /// The exact UTF-8 of the characters of interest, tested only at the rare lead bytes C2, E2,
    /// EF and F3: curly quotes, dashes, accents, CJK and emoji cost one comparison per byte.
    static func mayHide(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        var i = 0
        while i &+ 1 < n {
            switch b[i] {
            case 0xC2:
                if b[i &+ 1] == 0xAD { return true }
            case 0xE2:
                if i &+ 2 < n {
                    let b1 = b[i &+ 1], b2 = b[i &+ 2]
                    if b1 == 0x80 && ((0x8B...0x8F).contains(b2) || (0xAA...0xAE).contains(b2)) { return true }
                    if b1 == 0x81 && ((0xA0...0xA4).contains(b2) || (0xA6...0xA9).contains(b2)) { return true }
                }
            case 0xEF:
                if i &+ 2 < n && b[i &+ 1] == 0xBB && b[i &+ 2] == 0xBF { return true }
            case 0xF3:
                if i &+ 2 < n && b[i &+ 1] == 0xA0 && (b[i &+ 2] == 0x80 || b[i &+ 2] == 0x81) { return true }
            default:
                break
            }
            i &+= 1
        }
        return false
    }

    @inline(__always) static func isZeroWidth(_ v: UInt32) -> Bool {
        (v >= 0x200B && v <= 0x200F) || (v >= 0x2060 && v <= 0x2064)
    }
}

extension ContentDetectors {
    /// One field of server metadata the model reads (descriptions, titles, names, instructions).
    func metadata(_ r: JSONRef, _ scan: inout Scan) {
        withText(scan.doc, r) { b in
            hidden(b, r, output: false, &scan)
            let marker = config.markers.firstMatch(b)
            let credential = config.credentialRefs.firstMatch(b)
            let exfil = exfiltration(b)
            // Each alone has innocent readings; together in one field they are the published
            // poisoning recipe (an urgent instruction to read a secret and pass it on).
            let combined = (marker != nil ? 1 : 0) + (credential != nil ? 1 : 0) + (exfil != nil ? 1 : 0) >= 2
            if let m = marker {
                scan.add(.instructionMarker, severity: combined ? 1 : nil,
                         signature: "Instruction to the model in server-provided text: \"\(config.markers.phrases[m.phrase].text)\"",
                         at: r, redacted: Excerpt.plain(b, m.range), matched: UnsafeBufferPointer(rebasing: b[m.range]))
            }
            if let c = credential {
                scan.add(.credentialReference, severity: combined ? 1 : nil,
                         signature: "Server-provided text refers to a credential file",
                         at: r, redacted: Excerpt.plain(b, c.range), matched: UnsafeBufferPointer(rebasing: b[c.range]))
            }
            if let e = exfil {
                scan.add(.exfiltration, severity: combined ? 1 : nil,
                         signature: "Server-provided text asks for data to be sent elsewhere",
                         at: r, redacted: Excerpt.plain(b, e), matched: UnsafeBufferPointer(rebasing: b[e]))
            }
        }
    }

    /// Text content of a tool result: hidden characters and instructions aimed at the model.
    /// Credential names are not looked for here: listing `~/.ssh` is a legitimate tool's output.
    func output(_ r: JSONRef, _ scan: inout Scan) {
        withText(scan.doc, r) { b in
            hidden(b, r, output: true, &scan)
            if let m = config.markers.firstMatch(b) {
                scan.add(.outputInstructions, signature: "Tool output addresses the model: \"\(config.markers.phrases[m.phrase].text)\"",
                         at: r, redacted: Excerpt.plain(b, m.range), matched: UnsafeBufferPointer(rebasing: b[m.range]))
            } else if let e = exfiltration(b) {
                scan.add(.outputInstructions, signature: "Tool output asks for data to be sent elsewhere",
                         at: r, redacted: Excerpt.plain(b, e), matched: UnsafeBufferPointer(rebasing: b[e]))
            }
        }
    }

    /// Hidden-character rules. The evidence hash covers the whole field: the hidden characters
    /// mean nothing without the text they hide in, and the hash then follows that exact text.
    func hidden(_ b: UnsafeBufferPointer<UInt8>, _ r: JSONRef, output: Bool, _ scan: inout Scan) {
        guard let h = HiddenScan.scan(b) else { return }
        if let t = h.tag {
            let shown = h.tagText.count > 80 ? String(h.tagText.prefix(80)) + "…" : h.tagText
            scan.add(.unicodeTags, signature: "Unicode TAG characters hide text: \"\(shown)\"",
                     at: r, redacted: Excerpt.render(h.scalars, focus: t), matched: b)
        }
        if output {
            if let k = h.invisible ?? h.bidi {
                scan.add(.outputHiddenUnicode, signature: "Invisible or bidirectional control characters in tool output",
                         at: r, redacted: Excerpt.render(h.scalars, focus: k), matched: b)
            }
            return
        }
        if let k = h.invisible {
            scan.add(.hiddenUnicode, signature: "Invisible characters in server-provided text",
                     at: r, redacted: Excerpt.render(h.scalars, focus: k), matched: b)
        }
        if let k = h.bidi {
            scan.add(.bidiControl, signature: "Bidirectional control characters in server-provided text",
                     at: r, redacted: Excerpt.render(h.scalars, focus: k), matched: b)
        }
    }

    /// Exfiltration phrasing: a configured phrase (`as the sidenote`), or a sending verb, then a
    /// word naming what to send (contents, key, conversation) and `to http(s)://` within one
    /// clause. A verb and a URL alone ("posts the message to https://hooks...") describe an
    /// ordinary webhook tool and pass.
    func exfiltration(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        if let m = config.exfiltration.firstMatch(b) { return m.range }
        guard !config.exfilVerbSet.isEmpty else { return nil }
        let n = b.count
        var i = 0
        var urls = 0
        // At most 32 URLs per field are looked behind (160 bytes each): linear on hostile input.
        while i &+ 7 <= n && urls < 32 {
            // Find "http://" or "https://" case-insensitively.
            guard ByteClass.lower(b[i]) == 0x68, isURLStart(b, i) else { i &+= 1; continue }
            urls &+= 1
            let windowStart = max(0, i &- 160)
            // Walk the words before the URL backwards, stopping at a sentence end.
            var sawTo = false, sawObject = false
            var j = i
            while j > windowStart {
                var e = j
                while e > windowStart && !ByteClass.isWordByte(b[e &- 1]) {
                    // A sentence ends at a newline or a full stop before a blank (not `.ssh`).
                    if b[e &- 1] == 0x0A || (b[e &- 1] == 0x2E && e < n && ByteClass.isSpace(b[e])) { e = windowStart; break }
                    e &-= 1
                }
                var s = e
                while s > windowStart && ByteClass.isWordByte(b[s &- 1]) { s &-= 1 }
                guard s < e else { break }
                if e &- s == 2 && hasPrefixFold(b, s, "to") { sawTo = true }
                else if sawTo && config.exfilObjectSet.matches(b, s..<e) { sawObject = true }
                else if sawTo && sawObject && config.exfilVerbSet.matches(b, s..<e) {
                    var end = i
                    while end < n && !ByteClass.isSpace(b[end]) && b[end] != 0x22 && b[end] != 0x3C { end &+= 1 }
                    return s..<end
                }
                j = s
            }
            i &+= 1
        }
        return nil
    }

    private func isURLStart(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Bool {
        let http: [UInt8] = [0x68, 0x74, 0x74, 0x70]
        for k in 0..<4 where ByteClass.lower(b[i &+ k]) != http[k] { return false }
        var j = i &+ 4
        if j < b.count && ByteClass.lower(b[j]) == 0x73 { j &+= 1 }
        return j &+ 3 <= b.count && b[j] == 0x3A && b[j &+ 1] == 0x2F && b[j &+ 2] == 0x2F
    }
}
