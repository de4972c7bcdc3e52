import CPrefetch

/// Asks the CPU to bring the cache line holding `address` into its caches, without waiting for
/// it and without ever faulting (an address that is no longer valid costs a wasted fetch). Used
/// to fetch a packet's flow state while the packet before it is being worked on.
@inlinable @inline(__always)
public func prefetchLine(_ address: UnsafeRawPointer) { sonar_prefetch(address) }
