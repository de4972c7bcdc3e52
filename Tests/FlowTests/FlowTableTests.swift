import Testing
import SonarCore
import SonarDecode
@testable import SonarFlow

/// A UDP packet from client port `port` of 10.0.0.1 to 10.0.0.2:53 at second `second`.
private func packet(_ port: UInt16, at second: Int64, v6: Bool = false) -> DecodedPacket {
    DecodedPacket(timestamp: Timestamp(seconds: second, microseconds: 0),
                  src: v6 ? .v6(0x2001_0db8_0000_0000, 1) : .v4(0x0A00_0001),
                  dst: v6 ? .v6(0x2001_0db8_0000_0000, 2) : .v4(0x0A00_0002),
                  transport: .udp, srcPort: port, dstPort: 53, payload: UnsafeRawBufferPointer(start: nil, count: 0))
}

/// The index against a model, with hashes drawn from a few values so that clusters form, merge,
/// wrap around the end of the buckets and lose members from their middle.
@Test func flowIndexFindsEveryEntryThroughCollisionsAndRemovals() {
    var index = FlowIndex(seed: 7, capacity: 16)
    var model: [(flow: Flow, hash: UInt64)] = []
    var rng = SplitMix(seed: 42)
    var next: UInt64 = 1
    func newFlow() -> Flow {
        let a = Endpoint(address: .v4(UInt32(truncatingIfNeeded: next)), port: 1000)
        let b = Endpoint(address: .v4(0x0A00_0002), port: 80)
        defer { next += 1 }
        return Flow(id: next, key: FlowKey(a, b, transport: .tcp), client: a, time: .zero)
    }
    for step in 0..<20_000 {
        // Grow to a few hundred entries, then hover there, removing as often as adding.
        let add = model.isEmpty || (model.count < 300 && rng.below(3) > 0) || (model.count >= 300 && rng.below(2) == 0)
        if add {
            // Hashes 13, 14, 15 sit at the end of a 16-bucket array and wrap; the rest collide often.
            let hash = [13, 14, 15, 29, 30, 45, 1, 17, 33, 0xFFFF_FFFF_FFFF_FFFF][rng.below(10)] as UInt64
            let flow = newFlow()
            index.insert(hash, flow)
            model.append((flow, hash))
        } else {
            let victim = model.remove(at: rng.below(model.count))
            index.remove(victim.hash, victim.flow)
        }
        if step % 97 == 0 || model.count < 20 {
            for (flow, hash) in model {
                #expect(index.find(hash, where: { $0 === flow }) === flow, "step \(step): flow \(flow.id) lost")
                #expect(index.find(hash, flow.key) === flow)
            }
        }
    }
    // Removed flows are gone; removing an absent flow changes nothing.
    let absent = newFlow()
    index.remove(13, absent)
    for (flow, hash) in model { #expect(index.find(hash, where: { $0 === flow }) === flow) }
    #expect(index.find(13, absent.key) == nil)
}

@Test func flowIndexHashesEqualKeysEquallyAndDependsOnItsSeed() {
    let a = Endpoint(address: .v4(0x0A00_0001), port: 40_000)
    let b = Endpoint(address: .v4(0x0A00_0002), port: 443)
    let one = FlowIndex(seed: 1), two = FlowIndex(seed: 2)
    // Both directions are one key.
    #expect(one.hash(FlowKey(a, b, transport: .tcp)) == one.hash(FlowKey(b, a, transport: .tcp)))
    #expect(one.hash(FlowKey(a, b, transport: .tcp)) != one.hash(FlowKey(a, b, transport: .udp)))
    // Another seed spreads the same keys differently (over 64 keys, at least one moves).
    let keys = (0..<64).map { FlowKey(Endpoint(address: .v4(0x0A00_0001), port: UInt16(40_000 + $0)), b, transport: .tcp) }
    #expect(keys.contains { one.hash($0) != two.hash($0) })
    // Neighbouring ports do not share a hash.
    #expect(Set(keys.map { one.hash($0) }).count == 64)
}

@Test func tableEvictsTheLeastRecentlyActiveAndReusesSlots() {
    var config = FlowConfig()
    config.maxFlows = 3
    let table = FlowTable(config: config)
    let (f1, _) = table.flow(for: packet(1001, at: 1))
    let (f2, _) = table.flow(for: packet(1002, at: 2))
    let (f3, _) = table.flow(for: packet(1003, at: 3, v6: true))
    // Flow 1 is active again: flow 2 is now the least recent and goes first.
    #expect(table.flow(for: packet(1001, at: 4)).0 === f1)
    let (f4, _) = table.flow(for: packet(1004, at: 5))
    #expect(table.flowsEvicted == 1)
    #expect(table.takeEnded().map { $0.0.id } == [f2.id])
    #expect(table.count == 3)
    // The same tuples still find their flows; the evicted one comes back as a new flow.
    #expect(table.flow(for: packet(1003, at: 6, v6: true)).0 === f3)
    #expect(table.flow(for: packet(1004, at: 6)).0 === f4)
    let (again, _) = table.flow(for: packet(1002, at: 7))
    #expect(again !== f2 && again.id == 5)
    // That evicted flow 1, the least recent after 3 and 4 were touched.
    #expect(table.takeEnded().map { $0.0.id } == [f1.id])
    // Both directions find one flow.
    let reply = DecodedPacket(timestamp: Timestamp(seconds: 8, microseconds: 0), src: .v4(0x0A00_0002), dst: .v4(0x0A00_0001),
                              transport: .udp, srcPort: 53, dstPort: 1002, payload: UnsafeRawBufferPointer(start: nil, count: 0))
    let (back, direction) = table.flow(for: reply)
    #expect(back === again && direction == .toClient)
    table.drainAll()
    #expect(table.takeEnded().map { $0.0.id } == [f3.id, f4.id, again.id])
    #expect(table.count == 0)
}

@Test func tableTimesOutIdleFlowsOldestFirstAndKeepsActiveOnes() {
    var config = FlowConfig()
    config.newTimeoutSeconds = 10
    let table = FlowTable(config: config)
    var flows: [Flow] = []
    for i in 0..<200 { flows.append(table.flow(for: packet(UInt16(2000 + i), at: Int64(i / 20))).0) }
    // Every tenth flow stays active.
    for i in stride(from: 0, to: 200, by: 10) { _ = table.flow(for: packet(UInt16(2000 + i), at: 12)) }
    table.expire(now: Timestamp(seconds: 15, microseconds: 0))
    // Idle 10 s or more at 15 s: flows first seen in seconds 0-5 and not touched at 12.
    let ended = table.takeEnded()
    let expected = (0..<120).filter { $0 % 10 != 0 }.map { flows[$0].id }
    #expect(ended.map { $0.0.id } == expected)
    #expect(ended.allSatisfy { $0.1 == .timeout })
    #expect(table.flowsTimedOut == UInt64(expected.count))
    #expect(table.count == 200 - expected.count)
    // The survivors are still found, and new flows take the freed slots without confusion.
    for i in stride(from: 0, to: 200, by: 10) { #expect(table.flow(for: packet(UInt16(2000 + i), at: 16)).0 === flows[i]) }
    for i in 0..<108 { _ = table.flow(for: packet(UInt16(5000 + i), at: 16)) }
    #expect(table.count == 200)
    for i in 120..<200 { #expect(table.flow(for: packet(UInt16(2000 + i), at: 16)).0 === flows[i]) }
    #expect(table.takeEnded().isEmpty)
}

extension SplitMix {
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
}

/// A packet's direction is read off the key's ends; it answers as comparing with `client`,
/// whichever end the client is, and when both ends are one endpoint. The client and the server
/// are read off the key too: each is the end it was made with, whichever end of the key that is.
@Test func directionAnswersAsComparingWithTheClient() {
    let a = Endpoint(address: .v4(0x0A00_0001), port: 5000)
    let b = Endpoint(address: .v4(0x0A00_0002), port: 80)
    let c = Endpoint(address: .v6(1, 2), port: 80)
    for (client, server) in [(a, b), (b, a), (a, a), (a, c), (c, a)] {
        let flow = Flow(id: 1, key: FlowKey(client, server, transport: .tcp), client: client, time: .zero)
        #expect(flow.client == client && flow.server == server, "client \(client), server \(server)")
        for source in [a, b, c, Endpoint(address: .v4(0x0A00_0001), port: 80)] {
            #expect(flow.direction(from: source) == (source == client ? .toServer : .toClient),
                    "client \(client), server \(server), source \(source)")
        }
    }
}
