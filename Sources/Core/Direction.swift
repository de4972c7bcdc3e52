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
    public var description: String { address.isV6 ? "[\(address)]:\(port)" : "\(address):\(port)" }
}
