/// One value for each message of a payload, in order. Nearly every payload carries one message
/// (a batch is rare), so the first value is kept inline and only a batch's others in an array:
/// what a worker thread works out ahead for the session thread (digests, secret locations) was
/// an array a payload, allocated on the worker's core and freed on the session thread's.
/// Inlinable, so the modules that use it get it specialised for their element type.
public struct PerMessage<Element> {
    @usableFromInline var first: Element?
    @usableFromInline var rest: [Element] = []

    @inlinable public init() {}

    @inlinable public init(_ elements: [Element]) {
        for e in elements { append(e) }
    }

    @inlinable public var count: Int { first == nil ? 0 : 1 + rest.count }

    @inlinable public mutating func append(_ element: Element) {
        if first == nil { first = element } else { rest.append(element) }
    }

    /// Room for `n` values (only a batch's second and later take any).
    @inlinable public mutating func reserveCapacity(_ n: Int) {
        if n > 1 { rest.reserveCapacity(n - 1) }
    }

    /// The value of message `i`; nil when there is none.
    @inlinable public func element(_ i: Int) -> Element? {
        if i == 0 { return first }
        return i > 0 && i <= rest.count ? rest[i - 1] : nil
    }
}
