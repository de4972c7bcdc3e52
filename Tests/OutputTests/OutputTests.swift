import Testing
import SonarCore
@testable import SonarOutput

@Test func timestampsAreISO8601WithMicroseconds() {
    #expect(Timestamp(microseconds: 0).iso8601 == "1970-01-01T00:00:00.000000+0000")
    // 2026-11-24T15:47:09.123456Z
    #expect(Timestamp(seconds: 1_795_535_229, microseconds: 123_456).iso8601 == "2026-11-24T15:47:09.123456+0000")
    // leap day and end of year
    #expect(Timestamp(seconds: 951_782_400, microseconds: 1).iso8601 == "2000-02-29T00:00:00.000001+0000")
    #expect(Timestamp(seconds: 1_735_689_599, microseconds: 999_999).iso8601 == "2024-12-31T23:59:59.999999+0000")
    #expect(Timestamp(microseconds: -1).iso8601 == "1969-12-31T23:59:59.999999+0000")
}

@Test func writerNestsAndSeparates() {
    var w = JSONWriter()
    w.beginObject()
    w.field("a", "x")
    w.field("n", 3)
    w.key("o"); w.beginObject(); w.field("b", true); w.key("arr"); w.beginArray(); w.int(1); w.string("two"); w.null(); w.endArray(); w.endObject()
    w.key("ms"); w.milliseconds(microseconds: 1_234_567)
    w.key("ms0"); w.milliseconds(microseconds: 5)
    w.field("absent", nil as String?)
    w.endObject()
    #expect(String(decoding: w.bytes, as: UTF8.self) == #"{"a":"x","n":3,"o":{"b":true,"arr":[1,"two",null]},"ms":1234.567,"ms0":0.005}"#)
}

@Test func writerEscapesEverythingThatMustBe() {
    var w = JSONWriter()
    w.beginArray()
    w.string("q\"b\\n\nr\rt\t\u{01}\u{1F} é \u{2028}\u{2029} 😀")
    w.endArray()
    #expect(String(decoding: w.bytes, as: UTF8.self) == #"["q\"b\\n\nr\rt\t\u0001\u001f é \u2028\u2029 😀"]"#)
}

/// A capture's timestamps are hostile input: they are clamped, and differences never trap.
@Test func hostileTimestampsAreClampedAndSubtractSafely() {
    let huge = Timestamp(seconds: Int64.max / 2, microseconds: 0)
    #expect(huge.microseconds == Timestamp.maxMicroseconds)
    let negative = Timestamp(seconds: Int64.min + 5, microseconds: -1)
    #expect(negative.microseconds == 0)
    #expect(Timestamp(seconds: 1, microseconds: Int64.max).microseconds == Timestamp.maxMicroseconds)
    let a = Timestamp(microseconds: Int64.min), b = Timestamp(microseconds: Int64.max)
    #expect(b.microseconds(since: a) == .max)
    #expect(a.microseconds(since: b) == .min)
    #expect(huge.iso8601 == "9999-12-31T23:59:59.999999+0000")
}
