import Yams

/// A refused configuration file: where and why. `description` is `FILE:LINE:COLUMN: reason`.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var column: Int
    public var reason: String
    public init(file: String, line: Int, column: Int, reason: String) {
        self.file = file; self.line = line; self.column = column; self.reason = reason
    }
    public var description: String { "\(file):\(line):\(column): \(reason)" }
}

/// Reading detector configuration YAML with positions for every complaint.
struct ConfigYAML {
    let file: String

    /// The YAML node tree of `text` (nil for an empty document), every syntax error placed.
    func compose(_ text: String) throws(ConfigError) -> Node? {
        do {
            return try Yams.compose(yaml: text)
        } catch let e as YamlError {
            throw ConfigYAML.error(e, file: file)
        } catch {
            throw ConfigError(file: file, line: 1, column: 1, reason: "\(error)")
        }
    }

    /// As `compose`, refusing an empty document.
    func parse(_ text: String) throws(ConfigError) -> Node {
        guard let node = try compose(text) else { throw ConfigError(file: file, line: 1, column: 1, reason: "the file is empty") }
        return node
    }

    static func error(_ e: YamlError, file: String) -> ConfigError {
        switch e {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigError(file: file, line: mark.line, column: mark.column, reason: "invalid YAML: \(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigError(file: file, line: context.mark.line, column: context.mark.column,
                               reason: "duplicate key \(duplicates.joined(separator: ", "))")
        default:
            return ConfigError(file: file, line: 1, column: 1, reason: "invalid YAML: \(e)")
        }
    }

    func fail(_ node: Node?, _ reason: String) -> ConfigError {
        ConfigError(file: file, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, reason: reason)
    }

    func mapping(_ node: Node, _ what: String) throws(ConfigError) -> Node.Mapping {
        guard let m = node.mapping else { throw fail(node, "\(what) must be a mapping") }
        return m
    }

    func string(_ node: Node?, _ what: String) throws(ConfigError) -> String {
        guard let node, let s = node.scalar?.string else { throw fail(node, "\(what) must be a string") }
        return s
    }

    func strings(_ node: Node?, _ what: String) throws(ConfigError) -> [String] {
        guard let node, let seq = node.sequence else { throw fail(node, "\(what) must be a list") }
        var out: [String] = []
        for item in seq { out.append(try string(item, "each of \(what)")) }
        return out
    }

    /// A severity 1–3, or `off` (nil).
    func severity(_ node: Node?, _ what: String) throws(ConfigError) -> Int? {
        guard let node else { throw fail(nil, "\(what) is missing") }
        if node.scalar?.string == "off" { return nil }
        guard let v = node.int, (1...3).contains(v) else { throw fail(node, "\(what) must be 1, 2, 3 or off") }
        return v
    }

    func positiveInt(_ node: Node?, _ what: String) throws(ConfigError) -> Int {
        guard let node else { throw fail(nil, "\(what) is missing") }
        guard let v = node.int, v > 0 else { throw fail(node, "\(what) must be a positive integer") }
        return v
    }

    /// Refuses keys a section does not know: a typo must not silently disable a check.
    func onlyKeys(_ m: Node.Mapping, _ allowed: Set<String>, _ what: String) throws(ConfigError) {
        for (k, _) in m {
            let name = k.scalar?.string ?? ""
            if !allowed.contains(name) { throw fail(k, "unknown key '\(name)' in \(what)") }
        }
    }
}

/// Configuration files read outside the detectors (`--limits`), with the same error positions.
public enum ConfigFile {
    /// The whole text of `path` (16 MiB at most).
    public static func read(_ path: String) throws(ConfigError) -> String {
        try readText(path, file: path)
    }

    /// The YAML node tree of `text` (nil for an empty document), every syntax error placed.
    public static func compose(_ text: String, file: String) throws(ConfigError) -> Node? {
        try ConfigYAML(file: file).compose(text)
    }
}
