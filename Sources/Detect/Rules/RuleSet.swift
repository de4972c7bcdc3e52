// Loading Sigma rule files into a rule set, and evaluating it on a message.
import Foundation

/// One problem in one rule file. `line` and `column` count from 1; 0 when the problem is the
/// file as a whole (it cannot be read).
public struct RuleError: Error, CustomStringConvertible, Sendable, Equatable {
    public var file: String
    public var line: Int
    public var column: Int
    public var reason: String

    public init(file: String, line: Int, column: Int, reason: String) {
        self.file = file; self.line = line; self.column = column; self.reason = reason
    }

    /// `FILE:LINE:COLUMN: reason` (`FILE: reason` for a whole-file problem).
    public var description: String {
        line > 0 ? "\(file):\(line):\(column): \(reason)" : "\(file): \(reason)"
    }
}

/// Every problem found while loading rules: a rule set loads whole or not at all.
public struct RuleLoadFailure: Error, CustomStringConvertible, Sendable, Equatable {
    public var errors: [RuleError]
    public init(errors: [RuleError]) { self.errors = errors }
    /// One problem per line.
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// The Sigma rules of the sensor (`logsource: {product: mcpsonar, category: mcp}`), in file order.
///
/// `load(path:)` takes a `.yml`/`.yaml` file or a directory. A directory is read recursively
/// (`*.yml` and `*.yaml`, hidden entries skipped, sorted by path); if it holds a `sigma/`
/// directory, only that is read, so the `rules/` root (whose other YAML files configure
/// detectors) and `rules/sigma` load the same rules. The engine passes `rules/sigma`.
public struct RuleSet: Sendable {
    public var rules: [SigmaRule] { didSet { table = GateTable(rules) } }
    /// The rules' gates, flattened for the per-message loop (no reference counting per rule).
    private var table: GateTable

    public init(rules: [SigmaRule] = []) {
        self.rules = rules
        self.table = GateTable(rules)
    }

    /// Loads a rule file or a directory of rule files; throws every problem found, in file order.
    public static func load(path: String) throws(RuleLoadFailure) -> RuleSet {
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDir) else {
            // stat fails for a path inside a folder we may not enter, too: say which it is.
            var s = stat()
            let reason = stat(path, &s) != 0 && errno == EACCES ? "permission denied" : "no such file or directory"
            throw RuleLoadFailure(errors: [RuleError(file: path, line: 0, column: 0, reason: reason)])
        }
        var files: [String] = []
        if isDir.boolValue {
            var root = path
            var sub: ObjCBool = false
            let sigma = (path as NSString).appendingPathComponent("sigma")
            if fm.fileExists(atPath: sigma, isDirectory: &sub), sub.boolValue { root = sigma }
            guard let walker = fm.enumerator(atPath: root) else {
                throw RuleLoadFailure(errors: [RuleError(file: root, line: 0, column: 0, reason: "cannot list directory")])
            }
            var relative: [String] = []
            while let item = walker.nextObject() as? String {
                let components = item.split(separator: "/")
                if components.contains(where: { $0.hasPrefix(".") }) { continue }
                if item.hasSuffix(".yml") || item.hasSuffix(".yaml") { relative.append(item) }
            }
            files = relative.sorted().map { (root as NSString).appendingPathComponent($0) }
                .filter { var d: ObjCBool = false; return fm.fileExists(atPath: $0, isDirectory: &d) && !d.boolValue }
        } else {
            files = [path]
        }
        var sources: [(file: String, yaml: String)] = []
        var errors: [RuleError] = []
        for file in files {
            guard let data = fm.contents(atPath: file) else {
                errors.append(RuleError(file: file, line: 0, column: 0, reason: "cannot read file"))
                continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                errors.append(RuleError(file: file, line: 0, column: 0, reason: "not UTF-8 text"))
                continue
            }
            sources.append((file: file, yaml: text))
        }
        do throws(RuleLoadFailure) {
            let set = try load(sources: sources)
            if !errors.isEmpty { throw RuleLoadFailure(errors: errors) }
            return set
        } catch {
            throw RuleLoadFailure(errors: errors + error.errors)
        }
    }

    /// Loads the rule in `yaml`, naming it `file` in errors and in `SigmaRule.file`.
    public static func load(yaml: String, file: String) throws(RuleLoadFailure) -> RuleSet {
        try load(sources: [(file: file, yaml: yaml)])
    }

    /// Loads several rule files given as text, in order; ids and signature ids must be unique
    /// across all of them.
    public static func load(sources: [(file: String, yaml: String)]) throws(RuleLoadFailure) -> RuleSet {
        var errors: [RuleError] = []
        var loaded: [RuleCompiler.Loaded] = []
        for source in sources {
            var compiler = RuleCompiler(file: source.file)
            loaded.append(contentsOf: compiler.compileFile(source.yaml))
            errors.append(contentsOf: compiler.errors)
        }
        var ids: [String: (String, Int)] = [:]
        var sids: [Int: (String, Int)] = [:]
        for l in loaded {
            if let (f, line) = ids[l.rule.id] {
                errors.append(RuleError(file: l.rule.file, line: l.idAt.line, column: l.idAt.column,
                                        reason: "duplicate id '\(l.rule.id)' (first in \(f):\(line))"))
            } else {
                ids[l.rule.id] = (l.rule.file, l.idAt.line)
            }
            if let (f, line) = sids[l.rule.signatureId] {
                errors.append(RuleError(file: l.rule.file, line: l.signatureIdAt.line, column: l.signatureIdAt.column,
                                        reason: "duplicate signature_id \(l.rule.signatureId) (first in \(f):\(line))"))
            } else {
                sids[l.rule.signatureId] = (l.rule.file, l.signatureIdAt.line)
            }
        }
        if !errors.isEmpty {
            // File order, then position, as a compiler lists them.
            let order = Dictionary(sources.enumerated().map { ($0.element.file, $0.offset) }, uniquingKeysWith: { a, _ in a })
            let sorted = errors.enumerated().sorted {
                let a = order[$0.element.file] ?? 0, b = order[$1.element.file] ?? 0
                return (a, $0.element.line, $0.element.column, $0.offset) < (b, $1.element.line, $1.element.column, $1.offset)
            }
            throw RuleLoadFailure(errors: sorted.map(\.element))
        }
        return RuleSet(rules: loaded.map(\.rule))
    }

    /// The evaluated rules (not `deprecated`/`unsupported`) whose condition holds, in file order.
    public func evaluate(_ fields: any FieldSource) -> [SigmaRule] {
        let methods = Self.texts(fields, Self.methodKey), kinds = Self.texts(fields, Self.kindKey)
        let candidates = table.candidates { isMethod, value in
            (isMethod ? methods : kinds).contains { WildcardPattern.equalsFolded($0, value) }
        }
        return run(candidates, fields)
    }

    /// `evaluate` for one message with its method and kind at hand: `fields` is made only if a
    /// rule passes its gates (most messages pass none, and skip building the field box).
    public func evaluate(method: String?, kind: String, fields: () -> any FieldSource) -> [SigmaRule] {
        let candidates = candidates(method: method, kind: kind)
        return candidates.isEmpty ? [] : run(candidates, fields())
    }

    /// The rules (by index) whose gates admit a message's method and kind: the rules
    /// `evaluate(method:kind:fields:)` runs. They depend on those two texts alone, so a caller
    /// may keep them for the next message with the same ones.
    public func candidates(method: String?, kind: String) -> [Int] {
        table.candidates { isMethod, value in
            guard let text = isMethod ? method : kind else { return false }
            return WildcardPattern.equalsFolded(text, value)
        }
    }

    /// The rules among `candidates` (from `candidates(method:kind:)`) whose condition holds.
    public func run(_ candidates: [Int], _ fields: any FieldSource) -> [SigmaRule] {
        var out: [SigmaRule] = []
        for i in candidates {
            let detection = rules[i].detection
            if detection.condition.evaluate(detection.selections, fields) { out.append(rules[i]) }
        }
        return out
    }

    private static let methodKey = FieldKey("mcp.method")
    private static let kindKey = FieldKey("mcp.kind")

    /// Each value of `key` as a string pattern reads it.
    static func texts(_ fields: any FieldSource, _ key: FieldKey) -> [String] {
        var out: [String] = []
        _ = fields.forEachValue(key) { v in
            switch v {
            case .string(let s), .number(let s): out.append(s)
            case .bool(let b): out.append(b ? "true" : "false")
            case .null, .container: break
            }
            return false
        }
        return out
    }

    /// `evaluate` as findings, each signed with its rule's title.
    public func findings(_ fields: any FieldSource) -> [Finding] {
        evaluate(fields).map { Finding(rule: $0) }
    }
}

/// Which rules run, and their gates, in flat arrays: a rule is a candidate when it is evaluated
/// (not deprecated or unsupported) and each of its gates admits one of the message's values.
final class GateTable: Sendable {
    private let evaluated: [Bool]
    /// Rule `i`'s gates are `gateStart[i]..<gateStart[i + 1]`.
    private let gateStart: [Int]
    private let gateIsMethod: [Bool]
    /// Gate `g`'s values are `valueStart[g]..<valueStart[g + 1]` of `valueRanges`, in `bytes`.
    private let valueStart: [Int]
    private let valueRanges: [Range<Int>]
    private let bytes: [UInt8]

    init(_ rules: [SigmaRule]) {
        var evaluated: [Bool] = [], gateStart = [0], gateIsMethod: [Bool] = [], valueStart = [0]
        var valueRanges: [Range<Int>] = [], bytes: [UInt8] = []
        for r in rules {
            evaluated.append(r.isEvaluated)
            for g in r.detection.gates {
                gateIsMethod.append(g.field == .method)
                for v in g.values {
                    valueRanges.append(bytes.count..<(bytes.count + v.count))
                    bytes += v
                }
                valueStart.append(valueRanges.count)
            }
            gateStart.append(gateIsMethod.count)
        }
        self.evaluated = evaluated; self.gateStart = gateStart; self.gateIsMethod = gateIsMethod
        self.valueStart = valueStart; self.valueRanges = valueRanges; self.bytes = bytes
    }

    /// The rules each of whose gates `admits` (given whether it gates the method, and one of its
    /// values) for one of its values, in order.
    func candidates(_ admits: (Bool, UnsafeBufferPointer<UInt8>) -> Bool) -> [Int] {
        var out: [Int] = []
        bytes.withUnsafeBufferPointer { all in
            rules: for i in evaluated.indices where evaluated[i] {
                for g in gateStart[i]..<gateStart[i + 1] {
                    var admitted = false
                    for v in valueStart[g]..<valueStart[g + 1] where admits(gateIsMethod[g], UnsafeBufferPointer(rebasing: all[valueRanges[v]])) {
                        admitted = true
                        break
                    }
                    if !admitted { continue rules }
                }
                out.append(i)
            }
        }
        return out
    }
}

