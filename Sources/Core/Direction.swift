/// Which way bytes travel on a connection. The client is the side that opened it
/// (sent the SYN) or, for a connection picked up mid-stream, the side judged to be the client.
public enum Direction: UInt8, Hashable, Sendable, CustomStringConvertible {
    case toServer = 0
    case toClient = 1

    public var reversed: Direction { self == .toServer ? .toClient : .toServer }
    public var index: Int { Int(rawValue) }
    public var description: String { self == .toServer ? "to_server" : "to_client" }
}

public enum TransportProtocol: UInt8, Hashable, Sendable {
    case tcp = 6
    case udp = 17

    public var name: String { self == .tcp ? "TCP" : "UDP" }
}

/// Address and port of one side of a connection.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public init(address: IPAddress, port: UInt16) { self.address = address; self.port = port }
    public var description: String {
        guard case .v4 = address else { return "[\(address)]:\(port)" }
        // Servers are named by this text on every MCP message (`MCPTracker.serverKey`): an IPv4
        // endpoint is written into a stack buffer (at most 21 bytes: a small, inline String).
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Endpoint.maxIPv4TextBytes) { b in
            let n = writeIPv4Text(into: b)
            return String(decoding: UnsafeBufferPointer(rebasing: b[..<n]), as: UTF8.self)
        }
    }

    /// The longest IPv4 endpoint's text, `255.255.255.255:65535`.
    public static let maxIPv4TextBytes = 21

    /// Writes an IPv4 endpoint's `description` into `b` (`maxIPv4TextBytes` at least) and returns
    /// its length; 0 for an IPv6 endpoint or a buffer too small.
    public func writeIPv4Text(into b: UnsafeMutableBufferPointer<UInt8>) -> Int {
        guard case .v4(let a) = address, b.count >= Endpoint.maxIPv4TextBytes else { return 0 }
        var n = IPAddress.writeDottedQuad(a, into: b)
        b[n] = UInt8(ascii: ":"); n += 1
        var digits = 1, p = Int(port)
        while p >= 10 { p /= 10; digits += 1 }
        p = Int(port)
        for i in stride(from: n + digits - 1, through: n, by: -1) { b[i] = UInt8(48 + p % 10); p /= 10 }
        return n + digits
    }
}
