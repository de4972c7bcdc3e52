@testable import SonarDetect
import Testing

/// The allocation-free head test of the decode-and-rescan gives exactly the answer of decoding
/// the head and checking its bytes, on every kind of string a message holds.
@Suite struct SecretCodecTests {
    static func reference(_ s: [UInt8]) -> Bool {
        s.withUnsafeBufferPointer { buffer in
            SecretCodec.decodeBase64(buffer, partial: true).map { bytes in
                bytes.allSatisfy { $0 >= 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
            } ?? false
        }
    }

    static func fast(_ s: [UInt8]) -> Bool {
        s.withUnsafeBufferPointer { SecretCodec.base64DecodesToPrintable($0) }
    }

    @Test func sameAnswerAsDecodingTheHead() {
        let fixed = [
            "", "a", "additionalProperties", "notifications/initialized", "ad2fc9ef16db45c4a1d19132b441be95",
            "Z2hwX0FCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFla", "Z2hwX0FCQ0RFRkdI\r\nSUpLTE1OT1BR", "aGVsbG8gd29ybGQ=",
            "aGVsbG8gd29ybGQ=x", "aGVs+bG8_d29y", "AAAAAAAAAAAAAAAA", "dGFiCXRhYgl0YWI=", "==", "a=b",
            "Echo back the input message", "2025-06-18", "http://localhost:8000/mcp", "____----++++////",
        ].map { Array($0.utf8) }
        for s in fixed { #expect(Self.fast(s) == Self.reference(s), "\(String(decoding: s, as: UTF8.self))") }
        // Random strings over the base64 alphabets, with CR/LF, padding and a few other bytes.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=\r\n .:%".utf8)
        var state: UInt64 = 7
        func next() -> Int {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Int(state >> 33)
        }
        var agreedTrue = 0
        for _ in 0..<20_000 {
            let length = next() % 40
            let s = (0..<length).map { _ in alphabet[next() % (next() % 4 == 0 ? alphabet.count : 64)] }
            let expected = Self.reference(s)
            #expect(Self.fast(s) == expected, "\(String(decoding: s, as: UTF8.self))")
            if expected { agreedTrue += 1 }
        }
        // Both answers occur often enough for the comparison to mean something.
        #expect(agreedTrue > 1_000 && agreedTrue < 19_000)
    }
}
