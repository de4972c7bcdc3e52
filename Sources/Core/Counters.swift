/// Named counters for anomalies and limit breaches, by layer ("http", "json", "tcp", ...).
/// Every parse error and every limit breach increments one; the `stats` event reports them all.
/// Not on the per-packet fast path: only incremented when something unusual happens.
public struct Counters: Sendable, Equatable {
    public private(set) var values: [String: Int] = [:]

    public init() {}

    public mutating func add(_ name: String, _ n: Int = 1) {
        values[name, default: 0] += n
    }

    public subscript(_ name: String) -> Int { values[name] ?? 0 }

    public mutating func merge(_ other: Counters) {
        for (k, v) in other.values { values[k, default: 0] += v }
    }

    public var isEmpty: Bool { values.isEmpty }
}
