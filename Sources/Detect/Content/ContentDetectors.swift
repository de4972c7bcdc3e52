// The content detectors: which fields of which messages are read, and the findings they make.
//
// What is read (nothing else is):
// - responses to tools/list (`tools[].name/title/description`, `annotations.title`, every string
//   `description`/`title` at any depth of `inputSchema`/`outputSchema`), prompts/list (prompt and
//   argument `name/title/description`), resources/list and resources/templates/list
//   (`name/title/description`), initialize and server/discover (`instructions`): poisoning rules;
// - responses to tools/call: `content[].text` and `content[].resource.text` for output poisoning;
// - responses to tools/call, resources/read, prompts/get: every string of `result` (except
//   members `blob`, `data`, `_meta`) for PII;
// - requests tools/call (`params.arguments`, every string at any depth): paths and injection;
//   resources/read `params.uri` and prompts/get `params.arguments`: paths.
// A response whose request was not seen is read by its shape (`tools` array → tools/list, ...).
//
// Deliberately let pass (false positives judged worse than the miss):
// - a single zero-width joiner/non-joiner/space/LRM/RLM next to non-ASCII text (emoji, Indic,
//   Persian, Thai, right-to-left scripts), a leading U+FEFF, a single soft hyphen;
// - credential file names in tool *output* (a file-listing tool prints `id_rsa`);
// - a sending verb and a URL without an object naming data ("posts the message to https://…");
// - one `../` in a string whose key does not say "path" (relative imports in code, prose);
// - shell operators not followed by a configured command word (`a && b`, `$(document)`,
//   `x || y` in SQL), pipes on Markdown table rows, backticks after a blank (Markdown code);
// - chaining inside arguments named like `command`/`script` is reported at severity 3 only;
// - `curl`/`wget` without a pipe into an interpreter, `nc` without `-e`/`-c`.
import SonarMCP

/// One content rule: its id, signature id, category and default severity.
public struct ContentRule: Sendable, Equatable {
    public let id: String
    public let signatureId: Int
    public let category: AlertCategory
    public let severity: Int

    // Poisoning: server-provided text the model reads (tools/list, prompts/list, resources/list,
    // resources/templates/list, initialize/server/discover instructions) and tool output.
    public static let hiddenUnicode = ContentRule(id: "poisoning.hidden-unicode", signatureId: 200100, category: .toolPoisoning, severity: 1)
    public static let unicodeTags = ContentRule(id: "poisoning.unicode-tags", signatureId: 200101, category: .toolPoisoning, severity: 1)
    public static let bidiControl = ContentRule(id: "poisoning.bidi-control", signatureId: 200102, category: .toolPoisoning, severity: 1)
    public static let instructionMarker = ContentRule(id: "poisoning.instruction-marker", signatureId: 200103, category: .toolPoisoning, severity: 2)
    public static let credentialReference = ContentRule(id: "poisoning.credential-reference", signatureId: 200104, category: .toolPoisoning, severity: 2)
    public static let exfiltration = ContentRule(id: "poisoning.exfiltration", signatureId: 200105, category: .toolPoisoning, severity: 2)
    public static let outputInstructions = ContentRule(id: "poisoning.output-instructions", signatureId: 200110, category: .toolPoisoning, severity: 2)
    public static let outputHiddenUnicode = ContentRule(id: "poisoning.output-hidden-unicode", signatureId: 200111, category: .toolPoisoning, severity: 3)
    // Sensitive paths in request arguments.
    public static let traversal = ContentRule(id: "paths.traversal", signatureId: 200200, category: .sensitivePath, severity: 2)
    public static let encodedTraversal = ContentRule(id: "paths.encoded-traversal", signatureId: 200201, category: .sensitivePath, severity: 1)
    public static let credentialFile = ContentRule(id: "paths.credential-file", signatureId: 200202, category: .sensitivePath, severity: 1)
    public static let systemFile = ContentRule(id: "paths.system-file", signatureId: 200203, category: .sensitivePath, severity: 2)
    // Command injection in tools/call arguments.
    public static let shellChain = ContentRule(id: "injection.shell-chain", signatureId: 200300, category: .commandInjection, severity: 2)
    public static let downloadExec = ContentRule(id: "injection.download-exec", signatureId: 200301, category: .commandInjection, severity: 1)
    public static let reverseShell = ContentRule(id: "injection.reverse-shell", signatureId: 200302, category: .commandInjection, severity: 1)
    // PII in results going to the client (severity from content.yml).
    public static let email = ContentRule(id: "pii.email", signatureId: 200400, category: .pii, severity: 3)
    public static let paymentCard = ContentRule(id: "pii.payment-card", signatureId: 200401, category: .pii, severity: 3)
    public static let iban = ContentRule(id: "pii.iban", signatureId: 200402, category: .pii, severity: 3)

    public static let all: [ContentRule] = [
        hiddenUnicode, unicodeTags, bidiControl, instructionMarker, credentialReference, exfiltration,
        outputInstructions, outputHiddenUnicode, traversal, encodedTraversal, credentialFile, systemFile,
        shellChain, downloadExec, reverseShell, email, paymentCard, iban,
    ]
}

/// The content detectors of the Detect layer: tool poisoning and hidden text, sensitive paths,
/// command injection and PII, read from the fields of MCP messages where each can do harm.
/// Stateless and `Sendable`: one instance serves every flow and thread. A class, so that a call
/// does not copy the configuration (each of its phrase tables and lists retained per message).
public final class ContentDetectors: Sendable {
    let config: ContentConfig

    public init(config: ContentConfig) {
        self.config = config
    }

    /// Findings reported for one message: past them, what the detectors find is counted, not
    /// reported (each finding's path is a walk from the message, and a message of a hundred
    /// thousand traversal strings is one attack, not two hundred thousand alerts).
    public static let maxReportedPerMessage = 64

    /// One message; `event.method` is the request's method on responses. Each finding once per
    /// (rule, path), at most `maxReportedPerMessage`; paths are JSON pointers from the message
    /// object (`/result/tools/2/description`). `tools`: the findings of tool definitions seen
    /// before, kept by the caller's thread. Returns how many findings went unreported.
    @discardableResult
    public func inspect(_ view: MCPMessageView, event: MCPEvent, tools: ToolScanCache? = nil, report: (Finding) -> Void) -> Int {
        var scan = Scan(doc: view.document, base: view.message.node)
        let doc = view.document
        let message = view.message
        switch message.kind {
        case .request:
            guard let params = message.params, let method = message.method ?? event.method else { return 0 }
            inspectRequest(method: method, params: params, &scan)
        case .response:
            guard let result = message.result else { return 0 }
            inspectResult(method: event.method ?? Self.guessMethod(doc, result), result: result, &scan, tools: tools)
        case .notification, .error:
            return 0
        }
        for f in scan.findings { report(f) }
        return scan.unreported
    }

    /// When the request was not seen (capture joined mid-session), the shape of a result still
    /// tells what it is: a tools list is worth reading even without its request.
    static func guessMethod(_ doc: JSONDocument, _ result: JSONRef) -> String? {
        if doc.kind(doc.member(result, literal: "tools") ?? JSONRef(index: -1)) == .array { return "tools/list" }
        if doc.kind(doc.member(result, literal: "prompts") ?? JSONRef(index: -1)) == .array { return "prompts/list" }
        if doc.kind(doc.member(result, literal: "resourceTemplates") ?? JSONRef(index: -1)) == .array { return "resources/templates/list" }
        if doc.kind(doc.member(result, literal: "resources") ?? JSONRef(index: -1)) == .array { return "resources/list" }
        if doc.member(result, literal: "instructions") != nil { return "initialize" }
        if doc.kind(doc.member(result, literal: "content") ?? JSONRef(index: -1)) == .array { return "tools/call" }
        if doc.kind(doc.member(result, literal: "contents") ?? JSONRef(index: -1)) == .array { return "resources/read" }
        return nil
    }

    // MARK: requests

    func inspectRequest(method: String, params: JSONRef, _ scan: inout Scan) {
        let doc = scan.doc
        switch method {
        case "tools/call":
            each(doc, params, "arguments") { args in
                forEachString(doc, args) { r, key in
                    withText(doc, r) { b in
                        if config.pathsEnabled { scanPath(b, key: key, r, &scan) }
                        if config.injectionEnabled { scanInjection(b, key: key, r, &scan) }
                    }
                }
            }
        case "resources/read":
            guard config.pathsEnabled else { return }
            each(doc, params, "uri") { uri in
                withText(doc, uri) { b in scanPath(b, key: "uri", uri, &scan) }
            }
        case "prompts/get":
            guard config.pathsEnabled else { return }
            each(doc, params, "arguments") { args in
                forEachString(doc, args) { r, key in
                    withText(doc, r) { b in scanPath(b, key: key, r, &scan) }
                }
            }
        default:
            return
        }
    }

    // MARK: results

    func inspectResult(method: String?, result: JSONRef, _ scan: inout Scan, tools cache: ToolScanCache? = nil) {
        guard let method else { return }
        let doc = scan.doc
        let names: [StaticString] = ["name", "title", "description"]
        if config.poisoningEnabled {
            switch method {
            case "tools/list":
                eachObject(doc, result, "tools") { tool in
                    guard let cache else {
                        toolDefinition(tool, &scan)
                        return
                    }
                    // Scanned on its own (paths from the tool), or answered for its bytes.
                    let found = doc.bytes.withUnsafeBytes { all in
                        cache.findings(of: UnsafeRawBufferPointer(rebasing: all[doc.range(tool)])) {
                            var own = Scan(doc: doc, base: tool)
                            toolDefinition(tool, &own)
                            return own.findings
                        }
                    }
                    guard !found.isEmpty else { return }
                    let place = scan.path(tool)
                    for f in found { scan.add(f, under: place) }
                }
            case "prompts/list":
                eachObject(doc, result, "prompts") { prompt in
                    for name in names { each(doc, prompt, name) { metadata($0, &scan) } }
                    eachObject(doc, prompt, "arguments") { arg in
                        for name in names { each(doc, arg, name) { metadata($0, &scan) } }
                    }
                }
            case "resources/list", "resources/templates/list":
                eachObject(doc, result, method == "resources/list" ? "resources" : "resourceTemplates") { resource in
                    for name in names { each(doc, resource, name) { metadata($0, &scan) } }
                }
            case "initialize", "server/discover":
                each(doc, result, "instructions") { metadata($0, &scan) }
            case "tools/call":
                eachObject(doc, result, "content") { item in
                    each(doc, item, "text") { output($0, &scan) }
                    each(doc, item, "resource") { res in each(doc, res, "text") { output($0, &scan) } }
                }
            default:
                break
            }
        }
        if config.piiEnabled, method == "tools/call" || method == "resources/read" || method == "prompts/get" {
            forEachString(doc, result, names: false, skipping: ["blob", "data", "_meta"]) { r, _ in
                withText(doc, r) { b in scanPII(b, r, &scan) }
            }
        }
    }

    /// The texts of one tool definition the model reads: `name`, `title`, `description` (in that
    /// order, every duplicate), `annotations.title`, and the schemas' descriptions and titles.
    func toolDefinition(_ tool: JSONRef, _ scan: inout Scan) {
        let doc = scan.doc
        for name: StaticString in ["name", "title", "description"] { each(doc, tool, name) { metadata($0, &scan) } }
        each(doc, tool, "annotations") { a in each(doc, a, "title") { metadata($0, &scan) } }
        for schema: StaticString in ["inputSchema", "outputSchema"] { each(doc, tool, schema) { schemaText($0, &scan) } }
    }

    /// Every string `description` and `title` at any depth of a JSON schema.
    func schemaText(_ schema: JSONRef, _ scan: inout Scan) {
        let doc = scan.doc
        var pending: [JSONRef] = []
        doc.forEachNode(in: schema) { r in
            if doc.isKey(r), doc.keyEquals(r, "description") || doc.keyEquals(r, "title") {
                let value = JSONRef(index: r.index &+ 1)
                if doc.kind(value) == .string { pending.append(value) }
            }
            return true
        }
        for v in pending { metadata(v, &scan) }
    }
}

// MARK: walking

/// Calls `body` with the value of every member of `obj` named `name`. Duplicate keys are all
/// read: the sender's parser may keep the first and the receiver's the last, and a detector that
/// read only one would be blind to the other. Names are written in the code: compared as bytes,
/// by length first (no String per member).
func each(_ doc: JSONDocument, _ obj: JSONRef, _ name: StaticString, _ body: (JSONRef) -> Void) {
    doc.forEachMember(obj) { k, v in
        if doc.keyEquals(k, literal: name) { body(v) }
        return true
    }
}

/// Calls `body` for each object element of every array member of `obj` named `name`.
func eachObject(_ doc: JSONDocument, _ obj: JSONRef, _ name: StaticString, _ body: (JSONRef) -> Void) {
    each(doc, obj, name) { array in
        doc.forEachElement(array) { e in
            if doc.kind(e) == .object { body(e) }
            return true
        }
    }
}

/// Calls `body(string, key)` for every string value at or below `r`, with the name of the
/// nearest member between `r` and it (array elements take their array's name) when `names` is
/// true; the values of members named in `skipping` are not entered. One loop over the tape
/// (`JSONDocument.forEachStringValue`); a name is made a String only for a string it names.
func forEachString(_ doc: JSONDocument, _ r: JSONRef, names: Bool = true, skipping: [StaticString] = [],
                   _ body: (JSONRef, String?) -> Void) {
    doc.forEachStringValue(in: r, skippingMembers: skipping) { s, name in
        body(s, names ? name.flatMap { doc.string($0) } : nil)
    }
}

/// Per-message state: the findings so far, deduplicated by (rule, path), at most
/// `ContentDetectors.maxReportedPerMessage`; past them only counted (no path is made).
struct Scan {
    let doc: JSONDocument
    let base: JSONRef
    var findings: [Finding] = []
    private var seen: Set<String> = []
    private(set) var unreported = 0
    private var isFull: Bool { findings.count >= ContentDetectors.maxReportedPerMessage }

    init(doc: JSONDocument, base: JSONRef) {
        self.doc = doc
        self.base = base
    }

    func path(_ r: JSONRef) -> String { doc.pointer(to: r, from: base) ?? "" }

    mutating func add(_ rule: ContentRule, severity: Int? = nil, signature: String,
                      at r: JSONRef, redacted: String, matched: UnsafeBufferPointer<UInt8>) {
        if isFull { unreported += 1; return }
        let p = path(r)
        guard seen.insert(rule.id + "\u{0}" + p).inserted else { return }
        findings.append(Finding(rule: rule.id, signatureId: rule.signatureId, signature: signature,
                                category: rule.category, severity: severity ?? rule.severity,
                                evidence: Evidence(redacted: redacted, sha256: Redaction.sha256Hex(matched), path: p)))
    }

    /// A finding made under a node of this message (its evidence path from that node), `place`
    /// being the node's path from here.
    mutating func add(_ finding: Finding, under place: String) {
        if isFull { unreported += 1; return }
        var f = finding
        let p = place + (f.evidence?.path ?? "")
        guard seen.insert(f.rule + "\u{0}" + p).inserted else { return }
        f.evidence?.path = p
        findings.append(f)
    }
}

/// Runs `body` over a string's UTF-8 value: the bytes as sent when it has no escapes (no copy),
/// else the unescaped value. Nothing for a missing or non-string value.
func withText(_ doc: JSONDocument, _ r: JSONRef?, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
    guard let r, doc.kind(r) == .string else { return }
    if doc.hasEscapes(r) {
        var decoded = doc.string(r) ?? ""
        decoded.withUTF8(body)
        return
    }
    let range = doc.range(r)
    guard range.count >= 2 else { return }
    doc.bytes.withUnsafeBufferPointer { all in
        body(UnsafeBufferPointer(rebasing: all[(range.lowerBound &+ 1)..<(range.upperBound &- 1)]))
    }
}
