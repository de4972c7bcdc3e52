import SonarCore
import Yams

/// Who may send each MCP method and in which protocol versions (`rules/methods.yml`).
public struct MethodCatalogue: Sendable {
    public enum Sender: String, Sendable { case client, server, both }

    public struct Entry: Sendable, Equatable {
        public var kind: String
        public var from: Sender
        /// Indices into `versions`, inclusive.
        public var since: Int
        public var until: Int
    }

    /// Protocol versions in order.
    public let versions: [String]
    public let methods: [String: Entry]

    public static func load(path: String) throws(ConfigError) -> MethodCatalogue {
        try load(yaml: readText(path, file: path), file: path)
    }

    public static func load(yaml: String, file: String) throws(ConfigError) -> MethodCatalogue {
        let y = ConfigYAML(file: file)
        let root = try y.mapping(try y.parse(yaml), "the catalogue")
        try y.onlyKeys(root, ["versions", "methods"], "the catalogue")
        let versions = try y.strings(root["versions"], "versions")
        guard !versions.isEmpty else { throw y.fail(root["versions"], "versions must not be empty") }
        guard let methodsNode = root["methods"] else { throw y.fail(nil, "methods is missing") }
        var methods: [String: Entry] = [:]
        for (k, v) in try y.mapping(methodsNode, "methods") {
            let name = try y.string(k, "a method name")
            let m = try y.mapping(v, "method \(name)")
            try y.onlyKeys(m, ["kind", "from", "since", "until"], "method \(name)")
            let kind = try y.string(m["kind"], "kind of \(name)")
            guard kind == "request" || kind == "notification" else { throw y.fail(m["kind"], "kind must be request or notification") }
            guard let from = Sender(rawValue: try y.string(m["from"], "from of \(name)")) else {
                throw y.fail(m["from"], "from must be client, server or both")
            }
            let sinceText = try y.string(m["since"], "since of \(name)")
            guard let since = versions.firstIndex(of: sinceText) else { throw y.fail(m["since"], "unknown version '\(sinceText)'") }
            var until = versions.count - 1
            if let u = m["until"] {
                let text = try y.string(u, "until of \(name)")
                guard let i = versions.firstIndex(of: text), i >= since else { throw y.fail(u, "until must be a listed version not before since") }
                until = i
            }
            methods[name] = Entry(kind: kind, from: from, since: since, until: until)
        }
        return MethodCatalogue(versions: versions, methods: methods)
    }
}

func readText(_ path: String, file: String) throws(ConfigError) -> String {
    guard let text = FileText.read(path) else {
        throw ConfigError(file: file, line: 0, column: 0, reason: "cannot read the file")
    }
    return text
}
