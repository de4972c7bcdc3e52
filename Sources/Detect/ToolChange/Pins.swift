import SonarMCP

/// An approved tool inventory (`--pins FILE`): per server, each tool's definition hash.
/// A server is matched by its `name` (serverInfo.name) when the pin has one, else by `server`
/// (`address:port/path`), so pins survive a server moving address.
public struct PinSet: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public var server: String
        public var name: String?
        public var tools: [String: String]
        public init(server: String, name: String?, tools: [String: String]) {
            self.server = server; self.name = name; self.tools = tools
        }
    }

    public var servers: [Server]

    public init(servers: [Server]) { self.servers = servers }

    public func pins(server: String, name: String?) -> Server? {
        if let name, let s = servers.first(where: { $0.name == name }) { return s }
        return servers.first { $0.name == nil && $0.server == server } ?? servers.first { $0.server == server }
    }

    /// Reads the JSON that `mcpsonar pins` writes:
    /// `{"version":1,"servers":[{"server":"…","name":"…","tools":{"tool":"sha256",…}}]}`.
    public static func load(path: String) throws(ConfigError) -> PinSet {
        let text = try readText(path, file: path)
        let doc: JSONDocument
        do {
            doc = try JSONDocument.parse(Array(text.utf8))
        } catch {
            throw ConfigError(file: path, line: 1, column: 1, reason: "not valid JSON (\(error.counterName))")
        }
        guard let list = doc.member(doc.root, "servers"), doc.kind(list) == .array else {
            throw ConfigError(file: path, line: 1, column: 1, reason: "expected an object with a \"servers\" array")
        }
        var servers: [Server] = []
        for s in doc.elements(list) {
            guard let key = doc.member(s, "server").flatMap({ doc.string($0) }),
                  let tools = doc.member(s, "tools"), doc.kind(tools) == .object else {
                throw ConfigError(file: path, line: 1, column: 1, reason: "each server needs \"server\" and a \"tools\" object")
            }
            var map: [String: String] = [:]
            for (name, hash) in doc.members(tools) {
                guard let h = doc.string(hash), h.count == 64, h.allSatisfy(\.isHexDigit) else {
                    throw ConfigError(file: path, line: 1, column: 1, reason: "tool \"\(name)\" needs a 64-hex-digit SHA-256")
                }
                map[name] = h.lowercased()
            }
            servers.append(Server(server: key, name: doc.member(s, "name").flatMap { doc.string($0) }, tools: map))
        }
        return PinSet(servers: servers)
    }
}
