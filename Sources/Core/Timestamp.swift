/// Packet time in microseconds since the Unix epoch. The sensor never reads the wall clock
/// for anything it reports: replay and live capture behave the same.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    /// Latest time represented (9999-12-31): a hostile capture's timestamp is clamped into
    /// 0...maxMicroseconds, so differences between two times can never overflow.
    public static let maxMicroseconds: Int64 = 253_402_300_799_999_999

    public init(seconds: Int64, microseconds: Int64) {
        let (s, o1) = seconds.multipliedReportingOverflow(by: 1_000_000)
        let (v, o2) = s.addingReportingOverflow(microseconds)
        if o1 || o2 {
            self.microseconds = seconds < 0 ? 0 : Timestamp.maxMicroseconds
        } else {
            self.microseconds = min(max(v, 0), Timestamp.maxMicroseconds)
        }
    }

    /// `self - earlier` in microseconds, saturating instead of trapping.
    public func microseconds(since earlier: Timestamp) -> Int64 {
        let (d, o) = microseconds.subtractingReportingOverflow(earlier.microseconds)
        return o ? (microseconds > earlier.microseconds ? .max : .min) : d
    }

    public static let zero = Timestamp(microseconds: 0)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Milliseconds from `earlier` to `self` (never negative).
    public func milliseconds(since earlier: Timestamp) -> Double {
        Double(max(0, microseconds &- earlier.microseconds)) / 1000.0
    }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(microseconds: microseconds &+ seconds &* 1_000_000) }
}
