import Testing
@testable import SonarEngine

@Suite struct LegacySSETests {
    @Test func sessionIdsOfTheSDKs() {
        #expect(LegacySSE.sessionID(inURL: "/messages/?session_id=0f3a9c") == "0f3a9c")
        #expect(LegacySSE.sessionID(inURL: "/message?sessionId=6b1e-44&x=1") == "6b1e-44")
        #expect(LegacySSE.sessionID(inURL: "/messages/?a=b&&session_id=z#frag") == "z")
        #expect(LegacySSE.sessionID(inURL: "/messages/?session_id=#z") == nil)
        #expect(LegacySSE.sessionID(inURL: "/messages/?session_id") == nil)
        #expect(LegacySSE.sessionID(inURL: "/messages/") == nil)
        #expect(LegacySSE.sessionID(inURL: "/m?session_id=" + String(repeating: "a", count: 256)) == String(repeating: "a", count: 256))
        #expect(LegacySSE.sessionID(inURL: "/m?session_id=" + String(repeating: "a", count: 257)) == nil)
        // Trimmed by Character: a lone space or LF is trimmed, a CR LF pair (one Character) is not.
        #expect(LegacySSE.sessionID(inURL: "/m?session_id= abc\n") == "abc")
        #expect(LegacySSE.sessionID(inURL: "/m?session_id=abc\r\n") == nil)
        #expect(LegacySSE.sessionID(inURL: "/m?session_id=a b") == nil)
        // A combining mark makes "&" another Character: no separator there.
        #expect(LegacySSE.sessionID(inURL: "/m?x=1&\u{301}session_id=abc") == nil)
        #expect(LegacySSE.sessionID(inURL: "/m?session_id=\u{e9}t\u{e9}") == "\u{e9}t\u{e9}")
    }

    /// The byte path answers as the Character path for every URL it decides.
    @Test func asciiPathAnswersAsTheGeneralPath() {
        let pieces = ["?", "&", "=", "#", "session_id", "sessionId", "session", "_id", "a", "0f3a", " ", "\r", "\n",
                      "\r\n", "\u{7F}", "\u{301}", "\u{e9}", "/messages/", "x=1", "=="]
        var rng = SplitMix64(seed: 7)
        var decidedFast = 0
        for _ in 0..<20_000 {
            var url = ""
            for _ in 0..<Int(rng.next() % 9) { url += pieces[Int(rng.next() % UInt64(pieces.count))] }
            var copy = url
            if case .decided = copy.withUTF8({ LegacySSE.asciiSessionID($0) }) { decidedFast += 1 }
            #expect(LegacySSE.sessionID(inURL: url) == LegacySSE.generalSessionID(url), "\(url.debugDescription)")
        }
        #expect(decidedFast > 5_000)
    }
}
