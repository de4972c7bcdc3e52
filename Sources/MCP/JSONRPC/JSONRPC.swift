// JSON-RPC 2.0 classification of one payload (HTTP body, SSE data, WebSocket text message).
import SonarCore

/// The four shapes of a JSON-RPC 2.0 message.
public enum JSONRPCKind: String, Sendable {
    case request, notification, response, error
}

/// A JSON-RPC id as sent: numbers keep their exact text (`1`, `-3`, `1.5e3`), strings are unescaped.
public enum JSONRPCID: Hashable, Sendable {
    case number(String)
    case string(String)
}

/// One classified message, pointing into the `JSONDocument` it came from.
public struct JSONRPCMessage: Sendable {
    // `node` first, so the implicit memberwise initializer (`node:kind:...`) differs from the
    // public one, which delegates to it (see `MCPPayload`: assigning each field copied the
    // message once more as it was made).
    /// The message object in the document.
    public var node: JSONRef
    public var kind: JSONRPCKind
    /// Absent for notifications, and for error responses whose id is null or missing
    /// (allowed from MCP 2025-11-25).
    public var id: JSONRPCID?
    /// Requests and notifications.
    public var method: String?
    /// Requests and notifications, when present (any JSON kind, as sent).
    public var params: JSONRef?
    /// Responses.
    public var result: JSONRef?
    /// Error responses: the `error` object.
    public var error: JSONRef?
    /// `error.code` when it is an integer.
    public var errorCode: Int?
    /// `error.message` when it is a string.
    public var errorMessage: String?
}

extension JSONRPCMessage {
    public init(kind: JSONRPCKind, id: JSONRPCID? = nil, method: String? = nil, node: JSONRef,
                params: JSONRef? = nil, result: JSONRef? = nil, error: JSONRef? = nil,
                errorCode: Int? = nil, errorMessage: String? = nil) {
        self.init(node: node, kind: kind, id: id, method: method, params: params, result: result, error: error,
                  errorCode: errorCode, errorMessage: errorMessage)
    }
}

/// The messages of one payload and the document they index into.
public struct JSONRPCParseResult: Sendable {
    public var document: JSONDocument
    /// One per valid message, in order (a batch gives one per valid element).
    public var messages: [JSONRPCMessage]
    /// The payload was a top-level array.
    public var isBatch: Bool
    /// Elements (or the single top-level value) that are not valid JSON-RPC 2.0 messages.
    public var invalidElements: Int

    public init(document: JSONDocument, messages: [JSONRPCMessage], isBatch: Bool, invalidElements: Int) {
        self.document = document
        self.messages = messages
        self.isBatch = isBatch
        self.invalidElements = invalidElements
    }
}

/// JSON-RPC 2.0 framing over the bounded JSON parser.
///
/// Rules (each rejected element counts once, `invalidElements` too):
/// - an element must be an object with `"jsonrpc": "2.0"` exactly, otherwise it is not JSON-RPC
///   ("jsonrpc.not_jsonrpc");
/// - with a string `method`: an id that is a string or number makes a request, no id a
///   notification; `method` wins over stray `result`/`error` members because servers dispatch on
///   it; a null or other id, or a non-string method, is invalid ("jsonrpc.invalid");
/// - without `method`: exactly one of `result` and `error`; a response needs a string or number
///   id; an error needs an object `error` and takes a string or number id, or none when the id is
///   null or absent; anything else is invalid;
/// - a top-level array is a batch; an empty one is invalid;
/// - duplicate top-level members: the last one wins, as in Node's `JSON.parse` and Python's
///   `json` on the servers' side, and "jsonrpc.duplicate_key" is counted (a possible evasion).
public enum JSONRPC {
    /// Parses a payload. Returns nil when it is not JSON at all or breaks a limit (the
    /// `JSONError.counterName` is counted); JSON that is not JSON-RPC 2.0 gives zero messages and
    /// counts "jsonrpc.not_jsonrpc".
    public static func parse(_ bytes: [UInt8], limits: JSONLimits, counters: inout Counters) -> JSONRPCParseResult? {
        var rejection: JSONError?
        return parse(bytes, limits: limits, counters: &counters, rejection: &rejection)
    }

    /// As `parse(_:limits:counters:)`, saying why a payload that is not JSON was refused.
    public static func parse(_ bytes: [UInt8], limits: JSONLimits, counters: inout Counters,
                             rejection: inout JSONError?) -> JSONRPCParseResult? {
        let document: JSONDocument
        do throws(JSONError) {
            document = try JSONDocument.parse(bytes, limits: limits)
        } catch {
            counters.add(error.counterName)
            rejection = error
            return nil
        }
        return classify(document, counters: &counters)
    }

    /// Classifies an already parsed document.
    public static func classify(_ document: JSONDocument, counters: inout Counters) -> JSONRPCParseResult {
        let root = document.root
        var messages: [JSONRPCMessage] = []
        var tally = Tally()
        let isBatch = document.kind(root) == .array
        if isBatch {
            if document.count(root) == 0 { tally.invalid += 1 }
            // Bounded: a batch of a million scalars must not reserve a million messages.
            messages.reserveCapacity(min(document.count(root), 64))
            document.forEachElement(root) { element in
                // Non-objects are settled here: no message-sized optional to build and copy.
                guard document.kind(element) == .object else { tally.notJSONRPC += 1; return true }
                if let m = classifyElement(document, element, &tally) { messages.append(m) }
                return true
            }
        } else if let m = classifyElement(document, root, &tally) {
            messages.append(m)
        }
        tally.flush(into: &counters)
        return JSONRPCParseResult(document: document, messages: messages, isBatch: isBatch,
                                  invalidElements: tally.invalid + tally.notJSONRPC)
    }

    /// Classifies one message object; nil (after counting why) if it is not valid JSON-RPC 2.0.
    public static func classifyMessage(_ d: JSONDocument, _ obj: JSONRef, counters: inout Counters) -> JSONRPCMessage? {
        var tally = Tally()
        let message = classifyElement(d, obj, &tally)
        tally.flush(into: &counters)
        return message
    }

    /// Reasons counted while classifying; added to `Counters` once per payload, because a
    /// hostile batch of a million non-messages should not cost a million dictionary updates.
    struct Tally {
        var notJSONRPC = 0
        var invalid = 0
        var duplicateKey = 0

        func flush(into counters: inout Counters) {
            if notJSONRPC > 0 { counters.add("jsonrpc.not_jsonrpc", notJSONRPC) }
            if invalid > 0 { counters.add("jsonrpc.invalid", invalid) }
            if duplicateKey > 0 { counters.add("jsonrpc.duplicate_key", duplicateKey) }
        }
    }

    static func classifyElement(_ d: JSONDocument, _ obj: JSONRef, _ tally: inout Tally) -> JSONRPCMessage? {
        guard d.kind(obj) == .object else {
            tally.notJSONRPC += 1
            return nil
        }
        // One pass over the members, picking out the six that matter.
        var version: JSONRef?, id: JSONRef?, method: JSONRef?, params: JSONRef?, result: JSONRef?, error: JSONRef?
        var duplicate = false
        @inline(__always) func take(_ slot: inout JSONRef?, _ v: JSONRef) {
            if slot != nil { duplicate = true }
            slot = v
        }
        d.forEachMember(obj) { k, v in
            if d.hasEscapes(k) {
                // Rare: an escaped spelling such as "\u0069d" has no fixed length; unescape and compare.
                if d.keyEquals(k, "id") { take(&id, v) }
                else if d.keyEquals(k, "method") { take(&method, v) }
                else if d.keyEquals(k, "params") { take(&params, v) }
                else if d.keyEquals(k, "result") { take(&result, v) }
                else if d.keyEquals(k, "error") { take(&error, v) }
                else if d.keyEquals(k, "jsonrpc") { take(&version, v) }
                return true
            }
            // The raw length (with quotes) says which of the names it could be.
            switch d.range(k).count {
            case 4: if d.keyEquals(k, literal: "id") { take(&id, v) }
            case 7: if d.keyEquals(k, literal: "error") { take(&error, v) }
            case 8:
                if d.keyEquals(k, literal: "method") { take(&method, v) }
                else if d.keyEquals(k, literal: "params") { take(&params, v) }
                else if d.keyEquals(k, literal: "result") { take(&result, v) }
            case 9: if d.keyEquals(k, literal: "jsonrpc") { take(&version, v) }
            default: break
            }
            return true
        }
        if duplicate { tally.duplicateKey += 1 }

        guard let version, d.keyEquals(version, literal: "2.0") else {
            tally.notJSONRPC += 1
            return nil
        }

        func invalid() -> JSONRPCMessage? {
            tally.invalid += 1
            return nil
        }

        // The id as sent; `.some(nil)` means present but null, `nil` absent or of a wrong kind.
        var parsedID: JSONRPCID?
        var idIsNull = false
        var idIsBad = false
        if let id {
            switch d.kind(id) {
            case .number: parsedID = d.numberText(id).map(JSONRPCID.number)
            case .string: parsedID = d.string(id).map(JSONRPCID.string)
            case .null: idIsNull = true
            default: idIsBad = true
            }
        }

        if let method {
            guard let name = d.string(method) else { return invalid() }
            if id == nil {
                return JSONRPCMessage(kind: .notification, method: name, node: obj, params: params)
            }
            guard let parsedID else { return invalid() } // null, bool, object or array id
            return JSONRPCMessage(kind: .request, id: parsedID, method: name, node: obj, params: params)
        }

        switch (result, error) {
        case (let result?, nil):
            guard let parsedID else { return invalid() }
            return JSONRPCMessage(kind: .response, id: parsedID, node: obj, result: result)
        case (nil, let error?):
            guard d.kind(error) == .object, !idIsBad else { return invalid() }
            _ = idIsNull // null and absent ids both map to nil here
            var message = JSONRPCMessage(kind: .error, id: parsedID, node: obj, error: error)
            if let code = d.member(error, literal: "code") { message.errorCode = d.int(code) }
            if let text = d.member(error, literal: "message") { message.errorMessage = d.string(text) }
            return message
        default:
            return invalid()
        }
    }
}
