import Testing
import SonarProtocols
@testable import SonarEngine

/// A connection's messages repeat their session id, host and protocol version: the text of each
/// is kept per field, answered again for the same bytes, and made anew when they change.
@Test func headerTextIsRememberedPerFieldAndRenewedWhenTheBytesChange() {
    let app = FlowApp(limits: SharedHTTPLimits(HTTPLimits()))
    func text(_ value: String, _ field: RememberedField) -> String {
        Array(value.utf8).withUnsafeBytes { headerText($0, memo: app, field) }
    }
    #expect(text("127.0.0.1:8000", .host) == "127.0.0.1:8000")
    #expect(text("2025-06-18", .protocolVersion) == "2025-06-18")
    #expect(text("0123456789abcdef", .sessionID) == "0123456789abcdef")
    // Same length, other bytes: each field answers for its own value only.
    #expect(text("127.0.0.1:8001", .host) == "127.0.0.1:8001")
    #expect(text("2025-11-25", .protocolVersion) == "2025-11-25")
    #expect(text("fedcba9876543210", .sessionID) == "fedcba9876543210")
    #expect(app.lastHost == "127.0.0.1:8001")
    #expect(app.lastProtocolVersion == "2025-11-25")
    #expect(app.lastSessionID == "fedcba9876543210")
    // A value equal to another field's kept text is still read as its own field's.
    #expect(text("fedcba9876543210", .host) == "fedcba9876543210")
    #expect(app.lastSessionID == "fedcba9876543210" && app.lastHost == "fedcba9876543210")
    // Without a connection's memo: the text itself.
    #expect(Array("x".utf8).withUnsafeBytes { headerText($0, memo: nil, .host) } == "x")
}
