import SonarCore

extension Timestamp {
    /// ISO 8601 with microseconds and a numeric offset, always UTC: `2026-11-24T15:47:09.123456+0000`
    /// (Suricata's EVE format). Computed by hand: no Foundation, no time zone database.
    public var iso8601: String {
        if let text = withISO8601Bytes({ String(decoding: $0, as: UTF8.self) }) { return text }
        let (y, m, d, rem, frac) = civilParts
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2)).\(pad(frac, 6))+0000"
    }

    /// Whole seconds since 1970 (rounded down, before 1970 too) and the microseconds into the second.
    var secondsAndMicros: (seconds: Int64, micros: Int64) {
        var secs = microseconds / 1_000_000
        var frac = microseconds % 1_000_000
        if frac < 0 { frac += 1_000_000; secs -= 1 }
        return (secs, frac)
    }

    /// Year, month, day, seconds into the day and microseconds into the second, UTC.
    private var civilParts: (year: Int64, month: Int64, day: Int64, seconds: Int64, micros: Int64) {
        let (secs, frac) = secondsAndMicros
        var days = secs / 86_400
        var rem = secs % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let (y, m, d) = Timestamp.civil(fromDays: days)
        return (y, m, d, rem, frac)
    }

    /// The ISO-8601 text of a time in years 0…9999 (the clamp keeps every packet time there),
    /// written into a stack buffer and handed to `body`; nil outside those years.
    public func withISO8601Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R? {
        let (y, m, d, rem, frac) = civilParts
        guard y >= 0 && y <= 9999 else { return nil }
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 31) { b in
            // Two digits at a time from a table (every event has a time, a `flow` event three):
            // digit by digit, with a division each, a time cost about 900 instructions.
            let pairs = DecimalDigits.pairs.utf8Start
            func two(_ v: Int, _ at: Int) {
                b[at] = pairs[2 &* v]
                b[at &+ 1] = pairs[2 &* v &+ 1]
            }
            let year = Int(y), seconds = Int(rem)
            two(year / 100, 0); two(year % 100, 2); b[4] = 45
            two(Int(m), 5); b[7] = 45; two(Int(d), 8); b[10] = 84
            two(seconds / 3600, 11); b[13] = 58; two(seconds % 3600 / 60, 14); b[16] = 58; two(seconds % 60, 17)
            if let tail = b.baseAddress { Timestamp.writeFraction(Int(frac), to: tail + 19) }
            return body(UnsafeBufferPointer(rebasing: b[0..<31]))
        }
    }

    /// The text after the seconds, `.123456+0000` (12 bytes at `b`): written here and by
    /// `JSONWriter`, which keeps the text before it for the seconds it wrote last.
    static func writeFraction(_ micros: Int, to b: UnsafeMutablePointer<UInt8>) {
        let pairs = DecimalDigits.pairs.utf8Start
        func two(_ v: Int, _ at: Int) {
            b[at] = pairs[2 &* v]
            b[at &+ 1] = pairs[2 &* v &+ 1]
        }
        b[0] = 46; two(micros / 10_000, 1); two(micros / 100 % 100, 3); two(micros % 100, 5)
        b[7] = 43; b[8] = 48; b[9] = 48; b[10] = 48; b[11] = 48
    }

    /// Gregorian date of a day count since 1970-01-01 (H. Hinnant's civil-from-days algorithm).
    static func civil(fromDays z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
