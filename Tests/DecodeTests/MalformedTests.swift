import SonarCore
import Testing
@testable import SonarDecode

@Suite struct MalformedTests {
    func one(_ frame: [UInt8], link: Int32 = LinkType.raw, wire: Int? = nil) -> (Decoded?, Counters) {
        var dec = PacketDecoder()
        let d = run(&dec, frame, link: link, wire: wire)
        return (d, dec.counters)
    }

    @Test func ipv4HeaderLengthBelowFive() {
        for ihl in 0..<5 {
            let (d, c) = one(Build.ipv4(ihlWords: ihl, payload: Build.tcp()))
            #expect(d == nil)
            #expect(c["decode.ipv4_bad_header"] == 1)
        }
    }

    @Test func ipv4HeaderLongerThanCaptured() {
        let (d, c) = one(Array(Build.ipv4(ihlWords: 15, payload: Build.tcp()).prefix(40)))
        #expect(d == nil)
        #expect(c["decode.truncated_ip"] == 1)
    }

    @Test func ipv4TotalLengthBelowHeader() {
        let (d, c) = one(Build.ipv4(totalLength: 19, payload: Build.tcp()))
        #expect(d == nil)
        #expect(c["decode.ipv4_bad_header"] == 1)
        let (d2, c2) = one(Build.ipv4(options: [1, 1, 1, 1], totalLength: 34, payload: Build.tcp()))
        #expect(d2 == nil)
        #expect(c2["decode.tcp_bad_header"] == 1)
    }

    @Test func ipv4TotalLengthZeroMeansFrameLength() {
        let (d, c) = one(Build.ipv4(totalLength: 0, payload: Build.tcp(payload: [9, 8, 7])))
        #expect(d?.payload == [9, 8, 7])
        #expect(c["decode.ipv4_zero_length"] == 1)
    }

    @Test func ipLengthBeyondTheFrame() {
        // The IP header claims 100 bytes more than the wire carried: payload marked truncated.
        let (d, c) = one(Build.ipv4(totalLength: 20 + 20 + 4 + 100, payload: Build.tcp(payload: [1, 2, 3, 4])))
        #expect(d?.payload == [1, 2, 3, 4])
        #expect(d?.packet.payloadTruncated == true)
        #expect(d?.packet.payloadLength == 104)
        #expect(c["decode.ip_length_exceeds_frame"] == 1)
    }

    @Test func tcpDataOffsetBelowFive() {
        for words in 0..<5 {
            let (d, c) = one(Build.ipv4(payload: Build.tcp(dataOffsetWords: words, payload: [1])))
            #expect(d == nil)
            #expect(c["decode.tcp_bad_header"] == 1)
        }
    }

    @Test func tcpDataOffsetBeyondIPLength() {
        let (d, c) = one(Build.ipv4(payload: Build.tcp(dataOffsetWords: 15, payload: [1, 2, 3])))
        #expect(d == nil)
        #expect(c["decode.tcp_bad_header"] == 1)
    }

    @Test func tcpHeaderShorterThanTwentyInIP() {
        let (d, c) = one(Build.ipv4(payload: Array(Build.tcp().prefix(12))))
        #expect(d == nil)
        #expect(c["decode.tcp_bad_header"] == 1)
    }

    @Test func udpLengthBelowEight() {
        let (d, c) = one(Build.ipv4(proto: 17, payload: Build.udp(length: 7, payload: [1, 2])))
        #expect(d == nil)
        #expect(c["decode.udp_bad_header"] == 1)
    }

    @Test func udpLengthShorterThanIPTrimsPayload() {
        let (d, c) = one(Build.ipv4(proto: 17, payload: Build.udp(length: 10, payload: [1, 2, 3, 4])))
        #expect(d?.payload == [1, 2])
        #expect(d?.packet.payloadTruncated == false)
        #expect(c.isEmpty)
    }

    @Test func udpLengthLongerThanIPTrustsIP() {
        let (d, c) = one(Build.ipv4(proto: 17, payload: Build.udp(length: 400, payload: [1, 2, 3, 4])))
        #expect(d?.payload == [1, 2, 3, 4])
        #expect(d?.packet.payloadTruncated == false)
        #expect(c["decode.udp_bad_length"] == 1)
    }

    @Test func notTCPOrUDP() {
        let (d, c) = one(Build.ipv4(proto: 1, payload: [8, 0, 0, 0, 0, 1, 0, 1]))
        #expect(d == nil)
        #expect(c["decode.not_tcp_udp"] == 1)
        let (d6, c6) = one(Build.ipv6(next: 58, payload: [128, 0, 0, 0, 0, 1, 0, 1]))
        #expect(d6 == nil)
        #expect(c6["decode.not_tcp_udp"] == 1)
    }

    @Test func snaplenCutsPayloadOnly() {
        let body = Build.bytes(100)
        let frame = Build.ethernet(type: 0x0800, payload: Build.ipv4(payload: Build.tcp(payload: body)))
        var dec = PacketDecoder()
        let d = run(&dec, Array(frame.prefix(64)), link: LinkType.ethernet, wire: frame.count)
        #expect(d?.payload == Array(body.prefix(10)))
        #expect(d?.packet.payloadTruncated == true)
        #expect(d?.packet.payloadLength == 100)
        #expect(d?.packet.wireLength == frame.count)
        #expect(dec.counters.isEmpty)
    }
}
