// PII in results going to the client: e-mail addresses, payment card numbers, IBANs.
import SonarMCP

extension ContentDetectors {
    /// One result string: each kind reported once per field, evidence masked (PII is sensitive).
    func scanPII(_ b: UnsafeBufferPointer<UInt8>, _ r: JSONRef, _ scan: inout Scan) {
        let severity = min(max(config.piiSeverity, 1), 3)
        if config.piiEmail, let m = Self.findEmail(b) {
            report(.email, "E-mail address in a result", m, b, r, severity, &scan)
        }
        if config.piiPaymentCard, let m = Self.findCard(b) {
            report(.paymentCard, "Payment card number (Luhn-valid) in a result", m, b, r, severity, &scan)
        }
        if config.piiIBAN, let m = Self.findIBAN(b) {
            report(.iban, "IBAN (checksum-valid) in a result", m, b, r, severity, &scan)
        }
    }

    private func report(_ rule: ContentRule, _ signature: String, _ m: Range<Int>, _ b: UnsafeBufferPointer<UInt8>,
                        _ r: JSONRef, _ severity: Int, _ scan: inout Scan) {
        let matched = UnsafeBufferPointer(rebasing: b[m])
        scan.add(rule, severity: severity, signature: signature, at: r,
                 redacted: Redaction.mask(String(decoding: matched, as: UTF8.self)), matched: matched)
    }

    // MARK: e-mail

    /// `local@domain.tld`: a dot-atom local part and at least two domain labels ending in an
    /// alphabetic TLD. `icon@2x.png`-style asset names are not addresses.
    static func findEmail(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let n = b.count
        var at = 0
        while at < n {
            guard b[at] == 0x40 else { at &+= 1; continue }
            defer { at &+= 1 }
            var s = at
            while s > 0 && isLocal(b[s &- 1]) && at &- s < 64 { s &-= 1 }
            while s < at && b[s] == 0x2E { s &+= 1 }  // cannot start with a dot
            guard s < at else { continue }
            var e = at &+ 1
            var labels = 0, labelStart = e, tldAlpha = true, tldLength = 0
            while e < n {
                let c = b[e]
                if ByteClass.isAlnum(c) || c == 0x2D { e &+= 1; continue }
                if c == 0x2E && e > labelStart && e &+ 1 < n && ByteClass.isAlnum(b[e &+ 1]) {
                    labels &+= 1; e &+= 1; labelStart = e; continue
                }
                break
            }
            guard labels >= 1, e > labelStart else { continue }
            tldLength = e &- labelStart
            for k in labelStart..<e where !((b[k] | 0x20) &- 0x61 < 26) { tldAlpha = false }
            guard tldAlpha, tldLength >= 2, tldLength <= 24 else { continue }
            let tld = Array(UnsafeBufferPointer(rebasing: b[labelStart..<e])).map(ByteClass.lower)
            if assetExtensions.contains(tld) { continue }
            return s..<e
        }
        return nil
    }

    static let assetExtensions: Set<[UInt8]> = Set(["png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "js", "css", "ts"].map { Array($0.utf8) })

    @inline(__always) static func isLocal(_ c: UInt8) -> Bool {
        ByteClass.isAlnum(c) || c == 0x2E || c == 0x5F || c == 0x25 || c == 0x2B || c == 0x2D
    }

    // MARK: payment cards

    /// 13–19 digits, optionally grouped by single spaces or dashes, not part of a longer number,
    /// Luhn-valid and with the length a known issuer prefix uses. Longer digit runs (order
    /// numbers, timestamps) are tried group by group from their start only.
    static func findCard(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let n = b.count
        var i = 0
        while i < n {
            guard ByteClass.isDigit(b[i]), i == 0 || !(ByteClass.isAlnum(b[i &- 1]) || b[i &- 1] == 0x2E || b[i &- 1] == 0x2D) else {
                i &+= 1; continue
            }
            // Count first without allocating: most digit runs are short.
            var count = 0, q = i
            while q < n && count < 13 {
                if ByteClass.isDigit(b[q]) { count &+= 1 }
                else if !((b[q] == 0x20 || b[q] == 0x2D) && q &+ 1 < n && ByteClass.isDigit(b[q &+ 1])) { break }
                q &+= 1
            }
            if count < 13 { i = max(q, i &+ 1); continue }
            var digits: [UInt8] = []
            var ends: [(end: Int, count: Int)] = []  // candidate ends at group boundaries
            var k = i
            while k < n && digits.count <= 19 {
                if ByteClass.isDigit(b[k]) { digits.append(b[k] &- 0x30); k &+= 1; continue }
                if (b[k] == 0x20 || b[k] == 0x2D) && k &+ 1 < n && ByteClass.isDigit(b[k &+ 1]) {
                    ends.append((k, digits.count)); k &+= 1; continue
                }
                break
            }
            let runEnd = k
            // The whole run must end cleanly (not inside a word or decimal).
            let cleanEnd = runEnd >= n || !(ByteClass.isAlnum(b[runEnd]) || (b[runEnd] == 0x2E && runEnd &+ 1 < n && ByteClass.isDigit(b[runEnd &+ 1])))
            if cleanEnd && digits.count <= 19 { ends.append((runEnd, digits.count)) }
            for candidate in ends.reversed() where candidate.count >= 13 && candidate.count <= 19 {
                let d = Array(digits[0..<candidate.count])
                if issuerAccepts(d) && luhn(d) { return i..<candidate.end }
            }
            i = max(runEnd, i &+ 1)
        }
        return nil
    }

    static func luhn(_ d: [UInt8]) -> Bool {
        var sum = 0
        var double = false
        for x in d.reversed() {
            var v = Int(x)
            if double { v *= 2; if v > 9 { v -= 9 } }
            sum += v
            double.toggle()
        }
        return sum % 10 == 0
    }

    /// Issuer identification prefixes and the lengths each network issues.
    static func issuerAccepts(_ d: [UInt8]) -> Bool {
        guard d.count >= 13 else { return false }
        func prefix(_ k: Int) -> Int { d.prefix(k).reduce(0) { $0 * 10 + Int($1) } }
        let len = d.count
        let p1 = prefix(1), p2 = prefix(2), p3 = prefix(3), p4 = prefix(4)
        if p1 == 4 { return len == 13 || len == 16 || len == 19 }                     // Visa
        if (51...55).contains(p2) || (2221...2720).contains(p4) { return len == 16 }    // Mastercard
        if p2 == 34 || p2 == 37 { return len == 15 }                                    // American Express
        if p4 == 6011 || (644...649).contains(p3) || p2 == 65 { return len >= 16 }     // Discover
        if (3528...3589).contains(p4) { return len >= 16 }                              // JCB
        if (300...305).contains(p3) || p2 == 36 || p2 == 38 || p2 == 39 { return len >= 14 } // Diners Club
        if p2 == 62 { return len >= 16 }                                                // UnionPay
        return false
    }

    // MARK: IBAN

    /// Country code, two check digits and the country's fixed length of alphanumerics, in one
    /// piece or in groups of four separated by single spaces, valid by ISO 7064 mod 97-10.
    static func findIBAN(_ b: UnsafeBufferPointer<UInt8>) -> Range<Int>? {
        let n = b.count
        var i = 0
        while i &+ 4 <= n {
            let c0 = b[i], c1 = b[i &+ 1]
            guard c0 &- 0x41 < 26, c1 &- 0x41 < 26, ByteClass.isDigit(b[i &+ 2]), ByteClass.isDigit(b[i &+ 3]),
                  i == 0 || !ByteClass.isAlnum(b[i &- 1]),
                  let length = ibanLengths[UInt16(c0) << 8 | UInt16(c1)] else { i &+= 1; continue }
            var chars: [UInt8] = [c0, c1, b[i &+ 2], b[i &+ 3]]
            var k = i &+ 4
            while k < n && chars.count < length {
                let c = b[k]
                if ByteClass.isDigit(c) || c &- 0x41 < 26 { chars.append(c); k &+= 1; continue }
                // A single space, only between groups of four.
                if c == 0x20 && chars.count % 4 == 0 && k &+ 1 < n && ByteClass.isAlnum(b[k &+ 1]) { k &+= 1; continue }
                break
            }
            if chars.count == length && (k >= n || !ByteClass.isAlnum(b[k])) && mod97(chars) == 1 {
                return i..<k
            }
            i &+= 1
        }
        return nil
    }

    /// ISO 13616: move the first four characters to the end, letters become 10–35, mod 97.
    static func mod97(_ chars: [UInt8]) -> Int {
        var rest = 0
        for c in chars.dropFirst(4) + chars.prefix(4) {
            if ByteClass.isDigit(c) { rest = (rest * 10 + Int(c &- 0x30)) % 97 }
            else { rest = (rest * 100 + Int(c &- 0x41) + 10) % 97 }
        }
        return rest
    }

    /// IBAN length by country (ISO 13616 registry), keyed by the two ASCII letters.
    static let ibanLengths: [UInt16: Int] = {
        let table = "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 VA22 VG24 XK20"
        var out: [UInt16: Int] = [:]
        for entry in table.split(separator: " ") {
            let u = Array(entry.utf8)
            guard u.count == 4, let len = Int(String(decoding: u[2...], as: UTF8.self)) else { continue }
            out[UInt16(u[0]) << 8 | UInt16(u[1])] = len
        }
        return out
    }()
}
