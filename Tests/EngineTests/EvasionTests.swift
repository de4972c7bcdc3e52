import Foundation
import Testing
@testable import SonarEngine

/// The evasion captures (scripts/fixtures/craft_evasion.py): one real session, one trick each on
/// its `tools/call add` request. Each test states exactly which messages the sensor reports, which
/// alerts it raises and which counters move (docs/limits.md says what a Linux endpoint does).
struct EvasionTests {
    struct Run {
        var mcp: [String]
        /// "flow_id rule" of every alert, in order.
        var alerts: [String]
        var counters: [String: [String: Int]]
    }

    static func run(_ file: String) throws -> Run {
        let lines = try runSensor([Repo.fixture(file)])
        var r = Run(mcp: [], alerts: [], counters: [:])
        for line in lines {
            let o = jsonObject(line)
            switch o["event_type"] as? String {
            case "mcp":
                r.mcp.append(timeless(line))
            case "alert":
                let rule = (o["alert"] as? [String: Any])?["rule"] as? String ?? "?"
                r.alerts.append("\(o["flow_id"] as? Int ?? 0) \(rule)")
            case "stats":
                let c = (o["stats"] as? [String: Any])?["counters"] as? [String: [String: Int]]
                r.counters = c ?? [:]
            default:
                break
            }
        }
        return r
    }

    /// What the untouched session gives: its messages and its two method alerts.
    static let original: Run? = try? run("mcp1-streamable-json.pcap")
    static let originalAlerts = ["3 method.unlisted-tool", "3 method.unknown"]
    static let baseCounters: [String: [String: Int]] = ["mcp": ["tool_added": 3]]

    func expect(_ file: String, mcp: [String]? = nil, alerts: [String], counters: [String: [String: Int]]) throws {
        let r = try Self.run("evasion/" + file)
        let original = try #require(Self.original)
        #expect(original.mcp.count == 29)
        #expect(original.alerts == Self.originalAlerts)
        #expect(r.mcp == (mcp ?? original.mcp), "\(file): messages")
        #expect(r.alerts == alerts, "\(file): alerts")
        #expect(r.counters == Self.baseCounters.merging(counters) { a, b in a.merging(b) { $1 } }, "\(file): counters")
    }

    @Test func forgedRetransmissionAfterTheRealSegmentIsIgnoredAndReported() throws {
        try expect("overlap-after.pcap",
                   alerts: ["3 protocol.tcp-overlap-conflict"] + Self.originalAlerts,
                   counters: ["tcp": ["overlap_conflict": 1, "retransmission": 1]])
    }

    @Test func forgedSegmentFirstWithLowTTLIsReadButReported() throws {
        // The sensor cannot tell which copy reached the server: it keeps the first (the forged
        // "a":7), and says both that the TTL changed and that the copies differ.
        let original = try #require(Self.original)
        let real = "10178ba5ccfa24f5d640fc5404513230b497a663bb930b1c063a5c42fc439070"   // {"a":2,"b":40}
        let forged = "0058b8d1b8d5d9d302131386f1f58b85f05e871a2b3ec890c8eb056284941a86" // {"a":7,"b":40}
        #expect(original.mcp.filter { $0.contains(real) }.count == 1)
        let seen = original.mcp.map { $0.replacingOccurrences(of: real, with: forged) }
        try expect("overlap-first.pcap", mcp: seen,
                   alerts: ["3 protocol.ttl-inconsistent", "3 protocol.tcp-overlap-conflict"] + Self.originalAlerts,
                   counters: ["tcp": ["overlap_conflict": 1, "retransmission": 1, "ttl_changed": 1]])
    }

    @Test func outOfOrderOverlapKeepsTheFirstHeldBytes() throws {
        // Linux would take the later, covering segment's bytes here (docs/limits.md); the
        // conflict alert says the two differ.
        try expect("overlap-ofo.pcap",
                   alerts: ["3 protocol.tcp-overlap-conflict"] + Self.originalAlerts,
                   counters: ["tcp": ["overlap_conflict": 1]])
    }

    @Test func segmentOutsideTheWindowIsNotRead() throws {
        try expect("out-of-window.pcap", alerts: Self.originalAlerts,
                   counters: ["tcp": ["segment_beyond_window": 1]])
    }

    @Test func resetsThatAreNotExactDoNotEndTheConnection() throws {
        try expect("rst-inexact.pcap", alerts: Self.originalAlerts,
                   counters: ["tcp": ["rst_inexact": 1, "rst_out_of_window": 1]])
    }

    @Test func exactResetWithAnotherTTLDoesNotBlindTheSensor() throws {
        // The later messages of the connection (44 data segments) are still read. The RST was
        // the connection's only TTL change, so the alert comes with it.
        try expect("rst-low-ttl.pcap", alerts: ["3 protocol.ttl-inconsistent"] + Self.originalAlerts,
                   counters: ["tcp": ["rst_ttl_mismatch": 1, "ttl_changed": 1]])
    }

    @Test func urgentByteIsRemovedAsTheServerDoes() throws {
        try expect("urgent.pcap", alerts: ["3 protocol.tcp-urgent-data"] + Self.originalAlerts,
                   counters: ["tcp": ["urgent_byte_removed": 1]])
    }

    @Test func oneByteSegmentsChangeNothing() throws {
        try expect("tiny.pcap", alerts: Self.originalAlerts, counters: [:])
    }

    @Test func theISNTheSYNACKAcknowledgesWins() throws {
        try expect("syn-isn.pcap", alerts: Self.originalAlerts,
                   counters: ["tcp": ["syn_isn_changed": 1, "syn_isn_resolved": 1, "syn_isn_ignored": 1]])
    }

    @Test func overlappingIPFragmentsDropTheDatagramAsLinuxDoes() throws {
        try expect("ip-frag-overlap.pcap", alerts: Self.originalAlerts,
                   counters: ["decode": ["fragment_overlap": 1, "fragment_overlap_dropped": 1, "ipv4_fragments": 3]])
    }
}
