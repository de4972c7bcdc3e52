extension String {
    /// Calls `body` with the string's UTF-8 bytes, read in place when they are contiguous (native
    /// and small strings: all of them on Linux), else from a copy. Unlike `withUTF8`, it needs no
    /// mutable copy of the string, whose retain and release every call paid.
    @inlinable
    public func withUTF8Bytes<R>(_ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        if let done = try utf8.withContiguousStorageIfAvailable(body) { return done }
        var copy = self
        return try copy.withUTF8(body)
    }
}
