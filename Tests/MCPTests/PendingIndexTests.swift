import Testing
import SonarCore
@testable import SonarMCP

/// The index against a model, with hashes drawn from a few values so that clusters form, merge,
/// wrap around the end of the buckets and lose members from their middle; entries are told apart
/// by slot, as the tracker tells them apart by the keys held in each slot.
@Test func pendingIndexFindsEveryEntryThroughCollisionsAndRemovals() {
    var index = PendingIndex(capacity: 16)
    var model: [(slot: Int, hash: UInt64)] = []
    var rng = SplitMix64(seed: 7)
    var nextSlot = 0
    for step in 0..<20_000 {
        let add = model.isEmpty || (model.count < 300 && rng.next() % 3 > 0) || (model.count >= 300 && rng.next() % 2 == 0)
        if add {
            let hash = [13, 14, 15, 29, 30, 45, 1, 17, 33, 0xFFFF_FFFF_FFFF_FFFF][Int(rng.next() % 10)] as UInt64
            let slot = nextSlot
            nextSlot += 1
            #expect(index.file(hash, slot: slot, replacing: { _ in false }) == nil)
            model.append((slot, hash))
        } else {
            let victim = model.remove(at: Int(rng.next() % UInt64(model.count)))
            index.remove(victim.hash, slot: victim.slot)
        }
        #expect(index.count == model.count)
        if step % 97 == 0 || model.count < 20 {
            for (slot, hash) in model {
                #expect(index.find(hash, where: { $0 == slot }) == slot, "step \(step): slot \(slot) lost")
            }
        }
    }
    // Filing under a key that is there replaces its slot and says which it was.
    let (slot, hash) = model[model.count / 2]
    #expect(index.file(hash, slot: 1_000_000, replacing: { $0 == slot }) == slot)
    #expect(index.find(hash, where: { $0 == slot }) == nil)
    #expect(index.find(hash, where: { $0 == 1_000_000 }) == 1_000_000)
    // Removing what is not there (another slot under the hash, an absent hash) changes nothing.
    let before = index.count
    index.remove(hash, slot: slot)
    index.remove(12_345, slot: 0)
    #expect(index.count == before)
}

/// Pairing against a model through duplicates, answers that free slots for new requests, and
/// evictions of the oldest waiting request: every answer names the request a model of "one
/// waiting request per id, the oldest evicted first" names.
@Test func pairingAgreesWithAModelThroughReusedSlotsAndEvictions() {
    var config = MCPConfig()
    config.maxPendingRequests = 8
    let tracker = MCPTracker(config: config)
    let client = Endpoint(address: .v4(0x7F00_0001), port: 40000)
    let server = Endpoint(address: .v4(0x7F00_0001), port: 8000)
    var clock: Int64 = 0
    func send(_ json: String, _ direction: Direction, exchange: Int) -> MCPEvent? {
        clock += 1000
        let p = MCPPayload(time: Timestamp(microseconds: clock), flowId: 1, client: client, server: server,
                           direction: direction, transport: .http, appProto: "http", exchange: exchange,
                           sessionId: "S", http: HTTPContext(method: "POST", url: "/mcp"), bytes: Array(json.utf8))
        var out: [MCPEvent] = []
        tracker.process(p) { out.append($0) }
        return out.first
    }
    // id → (method, arrival); the oldest arrival goes first when more than eight wait.
    var waiting: [Int: (method: String, arrival: Int)] = [:]
    var rng = SplitMix64(seed: 99)
    var duplicates = 0, evicted = 0, answered = 0, exchange = 0
    for step in 0..<5_000 {
        exchange += 1
        let id = Int(rng.next() % 24)
        if rng.next() % 2 == 0 {
            let method = "m/\(step)"
            if waiting[id] != nil { duplicates += 1 }
            waiting[id] = (method, step)
            if waiting.count > config.maxPendingRequests, let oldest = waiting.min(by: { $0.value.arrival < $1.value.arrival }) {
                waiting[oldest.key] = nil
                evicted += 1
            }
            _ = send(#"{"jsonrpc":"2.0","id":\#(id),"method":"\#(method)"}"#, .toServer, exchange: exchange)
        } else {
            let event = send(#"{"jsonrpc":"2.0","id":\#(id),"result":{}}"#, .toClient, exchange: exchange)
            #expect(event?.method == waiting[id]?.method, "step \(step) id \(id)")
            if waiting.removeValue(forKey: id) != nil { answered += 1 }
        }
    }
    #expect(duplicates > 100 && evicted > 100 && answered > 100)
    #expect(tracker.counters["mcp.duplicate_request_id"] == duplicates)
    #expect(tracker.counters["mcp.pending_evicted"] == evicted)
}
