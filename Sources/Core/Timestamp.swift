/// Packet time in microseconds since the Unix epoch. The sensor never reads the wall clock
/// for anything it reports: replay and live capture behave the same.
public struct Timestamp: Comparable, Hashable, Sendable {
    public var microseconds: Int64

    public init(microseconds: Int64) { self.microseconds = microseconds }

    public init(seconds: Int64, microseconds: Int64) {
        self.microseconds = seconds &* 1_000_000 &+ microseconds
    }

    public static let zero = Timestamp(microseconds: 0)

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.microseconds < rhs.microseconds }

    /// Milliseconds from `earlier` to `self` (never negative).
    public func milliseconds(since earlier: Timestamp) -> Double {
        Double(max(0, microseconds &- earlier.microseconds)) / 1000.0
    }

    public func adding(seconds: Int64) -> Timestamp { Timestamp(microseconds: microseconds &+ seconds &* 1_000_000) }
}
