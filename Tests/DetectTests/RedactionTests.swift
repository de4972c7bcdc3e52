import Testing
@testable import SonarDetect

@Test func maskKeepsAtMostFourAndFour() {
    #expect(Redaction.mask("ghp_0123456789abcdefghijABCDEFGHIJ012345") == "ghp_********************************2345")
    #expect(Redaction.mask("12345678") == "12****78")
    #expect(Redaction.mask("short") == "*****")
    #expect(Redaction.mask("") == "")
    #expect(Redaction.sha256Hex("abc".utf8) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
}
