import Foundation
import Testing
import SonarDetect
@testable import SonarEngine

/// Hostile input end to end: real captures with packet bytes flipped, packets cut short and
/// timestamps garbled (the pcap framing kept), through the whole pipeline with every detector.
/// The sensor must read each to its end and write a final stats event: never trap.
@Test(arguments: 0..<4)
func mutatedCapturesNeverCrash(_ seed: Int) throws {
    var rng = SplitMix64(seed: UInt64(seed) &* 0x9E37_79B9 &+ 17)
    let sources = Repo.originals().map { Repo.fixture($0) } + Repo.crafted().map { Repo.fixture($0) }
    let dir = try scratchSubdirectory("mutants-\(seed)")
    for n in 0..<12 {
        let data = try [UInt8](Data(contentsOf: URL(fileURLWithPath: sources[Int(rng.next() % UInt64(sources.count))])))
        guard data.count > 24 else { continue }
        var out = Array(data[0..<24])
        var i = 24
        func le32(_ at: Int) -> Int { Int(data[at]) | Int(data[at + 1]) << 8 | Int(data[at + 2]) << 16 | Int(data[at + 3]) << 24 }
        while i + 16 <= data.count {
            var ts = le32(i)
            let cap = le32(i + 8), wire = le32(i + 12)
            guard i + 16 + cap <= data.count else { break }
            var packet = Array(data[(i + 16)..<(i + 16 + cap)])
            if !packet.isEmpty && rng.next() % 10 < 3 {
                for _ in 0..<Int(1 + rng.next() % 6) { packet[Int(rng.next() % UInt64(packet.count))] = UInt8(truncatingIfNeeded: rng.next()) }
            }
            if rng.next() % 50 == 0 { packet = Array(packet.prefix(Int(rng.next() % UInt64(packet.count + 1)))) }
            if rng.next() % 100 == 0 { ts = Int(UInt32(truncatingIfNeeded: rng.next())) }
            for v in [ts, le32(i + 4), packet.count, max(wire, packet.count)] {
                out += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v >> 16 & 0xFF), UInt8(v >> 24 & 0xFF)]
            }
            out += packet
            i += 16 + cap
        }
        let path = dir.appendingPathComponent("m\(n).pcap").path
        try Data(out).write(to: URL(fileURLWithPath: path))
        let lines = try runSensor([path])
        #expect(lines.last?.contains(#""event_type":"stats""#) == true, "mutant \(n) of seed \(seed)")
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
